package ccache

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/sclogon/sclogon/krb5conf"
)

// PlatformDefault is MIT's built-in default cache name on Unix.
const PlatformDefault = "FILE:/tmp/krb5cc_%{uid}"

// Environment describes this process for [DefaultName] and [Open]: its
// uids, KRB5CCNAME, TMPDIR, and from conf (nil for none) [libdefaults]
// default_ccache_name and kcm_socket.
func Environment(conf *krb5conf.Config) Env {
	env := Env{
		UID:     os.Getuid(),
		EUID:    os.Geteuid(),
		TempDir: os.Getenv("TMPDIR"),
		CCName:  os.Getenv("KRB5CCNAME"),
	}
	if env.TempDir == "" {
		env.TempDir = "/tmp"
	}
	env.DefaultCCacheName, _ = conf.Value("libdefaults", "default_ccache_name")
	env.KCMSocket, _ = conf.Value("libdefaults", "kcm_socket")
	return env
}

// DefaultName is the cache MIT's krb5_cc_default_name picks: KRB5CCNAME
// as it is, else default_ccache_name with its %{…} tokens expanded, else
// FILE:/tmp/krb5cc_UID.
func DefaultName(env Env) (string, error) {
	if env.CCName != "" {
		return env.CCName, nil
	}
	if env.DefaultCCacheName != "" {
		name, err := ExpandPath(env.DefaultCCacheName, env)
		if err != nil {
			return "", fmt.Errorf("ccache: default_ccache_name %q: %w", env.DefaultCCacheName, err)
		}
		return name, nil
	}
	return ExpandPath(PlatformDefault, env)
}

// ExpandPath expands MIT's path tokens (k5_expand_path_tokens) on Unix:
// %{uid} and %{USERID} (the real uid), %{euid}, %{username} (of the
// effective uid), %{TEMP} and %{null}. MIT's build-directory tokens
// (%{LIBDIR} …) name no cache and are refused.
func ExpandPath(path string, env Env) (string, error) {
	var b strings.Builder
	for {
		start := strings.Index(path, "%{")
		if start < 0 {
			b.WriteString(path)
			return b.String(), nil
		}
		end := strings.IndexByte(path[start:], '}')
		if end < 0 {
			return "", errors.New("ccache: variable missing }")
		}
		val, err := expandToken(path[start+2:start+end], env)
		if err != nil {
			return "", err
		}
		b.WriteString(path[:start])
		b.WriteString(val)
		path = path[start+end+1:]
	}
}

func expandToken(tok string, env Env) (string, error) {
	switch tok {
	case "uid", "USERID":
		return strconv.Itoa(env.UID), nil
	case "euid":
		return strconv.Itoa(env.EUID), nil
	case "username":
		return username(env)
	case "TEMP":
		if env.TempDir == "" {
			return "/tmp", nil
		}
		return env.TempDir, nil
	case "null":
		return "", nil
	}
	return "", fmt.Errorf("ccache: unknown token %%{%s}", tok)
}

func username(env Env) (string, error) {
	if env.Username != "" {
		return env.Username, nil
	}
	u, err := user.LookupId(strconv.Itoa(env.EUID))
	if err != nil {
		return "", fmt.Errorf("ccache: %%{username}: %w", err)
	}
	return u.Username, nil
}
