// Package pam is sclogon's PAM helper: the logic behind `sclogon pam`, which
// pam_exec(8) runs with expose_authtok to log a Linux user on with a smart
// card, and behind `sclogon watch`, which acts when the card is removed.
//
// Read the configuration with [LoadConfig], the PIN pam_exec writes to stdin
// with [ReadAuthtok], the account with [LookupAccount], then call
// [Logon.Run]. It obtains a TGT for PAM_USER@REALM with the [IdentitySource]
// (the card in production; a FILE: or PKCS12: identity in tests), asks the
// KDC for a ticket to the host's own service principal, decrypts that ticket
// with the host keytab ([Validate]) and only then writes the user's ccache,
// owned by the user, mode 0600.
//
// # Why the service ticket
//
// A TGT alone proves nothing to the computer: whoever answers on the KDC's
// address could have issued it (the Zanarotti attack). Only the real KDC holds
// the host's long-term key, so a ticket for host/FQDN that decrypts with the
// keytab, names the same client and carries the session key the KDC handed
// out shows the logon came from the real KDC. MIT's krb5_verify_init_creds
// does the same.
//
// # The pam_exec contract
//
// pam_exec writes the password followed by one NUL byte to the command's
// stdin (an empty password is a lone NUL) and exports PAM_USER, PAM_TYPE
// (auth, account, password, open_session, close_session), PAM_SERVICE,
// PAM_RHOST, PAM_RUSER and PAM_TTY. Any non-zero exit status becomes
// PAM_SYSTEM_ERR; zero is PAM_SUCCESS. The command's stdout and stderr go to
// /dev/null unless pam_exec has the stdout or log= option.
//
// # Card removal
//
// [Watch] polls a [Presence] (which readers hold a card) and, when the card
// that was present leaves its reader, runs the configured actions: a command
// such as `loginctl lock-session`, and [DestroyCCache].
package pam
