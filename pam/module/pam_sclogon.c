/*
 * pam_sclogon.so: smart-card logon for the auth, account and session stacks.
 *
 * The module keeps Go's runtime out of the login process: it runs the
 * sclogon helper (`sclogon pam --module`) with one end of a socket pair as
 * the helper's stdin and stdout, relays the helper's prompts and messages
 * to the application's PAM conversation, sets what the helper asks for in
 * the PAM environment (KRB5CCNAME), and returns the PAM code the helper
 * names in its last frame. The frames (pam/module.go documents them): one
 * byte of type, the payload's length as 4 bytes big-endian, the payload.
 *
 * Options: helper=PATH (default /usr/bin/sclogon), config=FILE, log=FILE
 * (the helper's stderr, appended; default /dev/null, the helper logs to
 * syslog), debug (the helper traces each step).
 *
 * A helper that cannot be started, dies, or breaks the protocol makes
 * PAM_SYSTEM_ERR: never a success.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define DEFAULT_HELPER "/usr/bin/sclogon"
#define MAX_FRAME 512 /* PAM_MAX_MSG_SIZE, and the helper's bound */

struct options {
	const char *helper;
	const char *config;
	const char *log;
	int debug;
};

static void parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *o)
{
	o->helper = DEFAULT_HELPER;
	o->config = NULL;
	o->log = NULL;
	o->debug = 0;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "helper=", 7) == 0)
			o->helper = argv[i] + 7;
		else if (strncmp(argv[i], "config=", 7) == 0)
			o->config = argv[i] + 7;
		else if (strncmp(argv[i], "log=", 4) == 0)
			o->log = argv[i] + 4;
		else if (strcmp(argv[i], "debug") == 0)
			o->debug = 1;
		else
			pam_syslog(pamh, LOG_ERR, "unknown option %s", argv[i]);
	}
}

/* The PAM codes the helper may name, by name without PAM_. */
static int code_of(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {
		{"SUCCESS", PAM_SUCCESS},
		{"AUTH_ERR", PAM_AUTH_ERR},
		{"AUTHINFO_UNAVAIL", PAM_AUTHINFO_UNAVAIL},
		{"CRED_INSUFFICIENT", PAM_CRED_INSUFFICIENT},
		{"MAXTRIES", PAM_MAXTRIES},
		{"USER_UNKNOWN", PAM_USER_UNKNOWN},
		{"CONV_ERR", PAM_CONV_ERR},
		{"SYSTEM_ERR", PAM_SYSTEM_ERR},
		{"IGNORE", PAM_IGNORE},
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	return PAM_SYSTEM_ERR;
}

static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		/* MSG_NOSIGNAL: a dead helper must not SIGPIPE the login process. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_frame(int fd, char type, const char *payload, size_t n)
{
	unsigned char hdr[5] = {(unsigned char)type, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	if (write_full(fd, hdr, sizeof hdr) < 0)
		return -1;
	return n == 0 ? 0 : write_full(fd, payload, n);
}

/* prompt asks the person through the application's conversation and sends
 * the answer (wiped afterwards) or an abort. */
static int prompt(pam_handle_t *pamh, int fd, int style, const char *text)
{
	char *resp = NULL;
	int rc = pam_prompt(pamh, style, &resp, "%s", text);
	if (rc != PAM_SUCCESS || resp == NULL) {
		free(resp);
		return send_frame(fd, 'X', NULL, 0);
	}
	size_t n = strlen(resp);
	int sent = send_frame(fd, 'A', resp, n > MAX_FRAME ? MAX_FRAME : n);
	explicit_bzero(resp, n);
	free(resp);
	return sent;
}

static void child(const struct options *o, int fd, char **envp)
{
	/* The helper's stderr never reaches the application's terminal. */
	int err = o->log ? open(o->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (err < 0)
		err = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (err < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	closefrom(3);
	const char *argv[8];
	int i = 0;
	argv[i++] = "sclogon";
	argv[i++] = "pam";
	argv[i++] = "--module";
	if (o->config) {
		argv[i++] = "--config";
		argv[i++] = o->config;
	}
	if (o->debug)
		argv[i++] = "-V";
	argv[i] = NULL;
	/* Reset the signals the application may block or ignore. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execve(o->helper, (char *const *)argv, envp);
	_exit(127);
}

static char *env_item(const char *name, const char *value)
{
	char *s = NULL;
	if (asprintf(&s, "%s=%s", name, value ? value : "") < 0)
		return NULL;
	return s;
}

/* run_helper runs one stage and returns the PAM code the helper named;
 * with PAM_SILENT its informational messages are not shown. */
static int run_helper(pam_handle_t *pamh, const struct options *o, const char *type, int flags)
{
	const char *user = NULL;
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || *user == '\0')
		return PAM_USER_UNKNOWN;
	const void *item;
	const char *service = NULL, *rhost = NULL, *tty = NULL;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS)
		service = item;
	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS)
		rhost = item;
	if (pam_get_item(pamh, PAM_TTY, &item) == PAM_SUCCESS)
		tty = item;

	/* A clean environment: what pam_exec would export, PATH, and the
	 * session's KRB5CCNAME (the session's own ccache when none is
	 * configured: account and open_session check it, close_session
	 * destroys it and no other session's). */
	const char *ccname = pam_getenv(pamh, "KRB5CCNAME");
	/* A screen locker authenticates in a new PAM handle, inside the
	 * session: the session's KRB5CCNAME is in the process environment.
	 * The helper refreshes that ccache only when it is the account's own
	 * per-session ccache, a regular file the account owns. */
	if (ccname == NULL && strcmp(type, "auth") == 0)
		ccname = getenv("KRB5CCNAME");
	char *envp[8] = {0};
	envp[0] = env_item("PAM_TYPE", type);
	envp[1] = env_item("PAM_USER", user);
	envp[2] = env_item("PAM_SERVICE", service);
	envp[3] = env_item("PAM_RHOST", rhost);
	envp[4] = env_item("PAM_TTY", tty);
	envp[5] = env_item("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	int n_env = 6;
	if (ccname != NULL)
		envp[n_env++] = env_item("KRB5CCNAME", ccname);
	int rc = PAM_SYSTEM_ERR;
	for (int i = 0; i < n_env; i++)
		if (envp[i] == NULL)
			goto out;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		pam_syslog(pamh, LOG_ERR, "socketpair: %m");
		goto out;
	}
	/* waitpid must see the helper even where the application ignores
	 * SIGCHLD. */
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old);
	pid_t pid = fork();
	if (pid < 0) {
		pam_syslog(pamh, LOG_ERR, "fork: %m");
		close(sv[0]);
		close(sv[1]);
		sigaction(SIGCHLD, &old, NULL);
		goto out;
	}
	if (pid == 0)
		child(o, sv[1], envp);
	close(sv[1]);
	int fd = sv[0], done = 0;
	char payload[MAX_FRAME + 1];
	while (!done) {
		unsigned char hdr[5];
		if (read_full(fd, hdr, sizeof hdr) < 0)
			break;
		uint32_t n = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
		if (n > MAX_FRAME || read_full(fd, payload, n) < 0)
			break;
		payload[n] = '\0';
		switch (hdr[0]) {
		case 'P':
			if (prompt(pamh, fd, PAM_PROMPT_ECHO_OFF, payload) < 0)
				done = -1;
			break;
		case 'Q':
			if (prompt(pamh, fd, PAM_PROMPT_ECHO_ON, payload) < 0)
				done = -1;
			break;
		case 'I':
			if (!(flags & PAM_SILENT))
				pam_info(pamh, "%s", payload);
			break;
		case 'E':
			pam_error(pamh, "%s", payload);
			break;
		case 'V':
			if (strchr(payload, '=') == NULL || pam_putenv(pamh, payload) != PAM_SUCCESS)
				pam_syslog(pamh, LOG_ERR, "cannot set %s in the PAM environment", payload);
			break;
		case 'R':
			rc = code_of(payload);
			done = 1;
			break;
		default:
			pam_syslog(pamh, LOG_ERR, "the helper sent frame type 0x%02x", hdr[0]);
			done = -1;
		}
	}
	explicit_bzero(payload, sizeof payload);
	close(fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGCHLD, &old, NULL);
	if (done != 1) {
		pam_syslog(pamh, LOG_ERR, "the helper %s ended without an answer (status %d)", o->helper, status);
		rc = PAM_SYSTEM_ERR;
	}
out:
	for (int i = 0; i < 8; i++)
		free(envp[i]);
	return rc;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	parse_options(pamh, argc, argv, &o);
	return run_helper(pamh, &o, "auth", flags);
}

/* The ccache is written by authenticate; there is nothing more to set. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	parse_options(pamh, argc, argv, &o);
	return run_helper(pamh, &o, "account", flags);
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	parse_options(pamh, argc, argv, &o);
	return run_helper(pamh, &o, "open_session", flags);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	parse_options(pamh, argc, argv, &o);
	return run_helper(pamh, &o, "close_session", flags);
}
