package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
)

// writeFile replaces path atomically: the data goes to a new file created
// with O_EXCL, which is then renamed over path.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// writeNewFile is writeFile for files that must not exist yet, such as
// private keys: the temporary file is hard-linked to path, which fails if
// path exists.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("pki: %s already exists; remove it or choose another name", path)
		}
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	dir, base := filepath.Split(path)
	var f *os.File
	var err error
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, fmt.Sprintf(".%s.tmp%d-%d", base, os.Getpid(), i))
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if os.IsExist(err) {
			continue
		}
		break
	}
	if err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	name := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("pki: writing %s: %w", path, err)
	}
	return name, nil
}

// WriteKeyAndCert writes key (0600, must not exist) and cert (0644) as PEM
// files, the pair MIT's X509_user_identity=FILE:cert,key and OpenSSL read.
func WriteKeyAndCert(keyPath, certPath string, key crypto.Signer, cert *x509.Certificate) error {
	if key != nil {
		k, err := MarshalKeyPEM(key)
		if err != nil {
			return err
		}
		if err := writeNewFile(keyPath, k, 0o600); err != nil {
			return err
		}
	}
	return writeFile(certPath, CertPEM(cert), 0o644)
}
