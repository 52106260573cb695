// Package pam is sclogon's PAM helper: the logic behind `sclogon pam`,
// which the PAM module pam_sclogon.so (pam/module/pam_sclogon.c) or
// pam_exec(8) with expose_authtok runs to log a Linux user on with a smart
// card, and behind `sclogon watch`, which acts when the card is removed.
//
// Read the configuration with [LoadConfig] and the account with
// [LookupAccount], then call [Logon.Run] with a [Conversation]: the module's
// ([ModuleConv], which asks for the PIN with the tries left through the
// application's PAM conversation), or the PIN pam_exec wrote to stdin
// ([ReadAuthtok]). It reads the PAM user name as the name hint
// ([Config.Hint]), obtains a TGT for it with the [IdentitySource] (the card
// in production, chosen by package card/selection; a FILE: or PKCS12:
// identity in tests), asks the KDC for a ticket to the host's own service
// principal, decrypts that ticket with the host keytab ([Validate]) and
// only then writes the user's ccache, owned by the user, mode 0600.
//
// # Name hints
//
// The client does not decide whose certificate it is. The PAM user name
// goes to the KDC as the AS-REQ client name, as Windows sends its
// X509HintsNeeded hint ("alice", `EXAMPLE\alice`, or "alice@suffix" as an
// enterprise name when the suffix is not the realm's), and the KDC's
// certificate mapping (UPN, altSecurityIdentities, the SID extension)
// refuses a certificate that belongs to another account.
//
// # The module protocol
//
// pam_sclogon.so runs `sclogon pam --module` on a socket pair and relays
// frames (see module.go): prompts and messages for the conversation, the
// environment to set (KRB5CCNAME), and last the PAM code ([ResultCode]):
// PAM_AUTHINFO_UNAVAIL without a card, reader or KDC, so the stack falls
// through to a password; PAM_MAXTRIES on a blocked PIN; PAM_AUTH_ERR on a
// wrong PIN or the KDC's refusal. close_session destroys the ccache whose
// KRB5CCNAME the module gave the session ([EndSession]), as pam_krb5 does.
//
// # The PIN
//
// The PIN typed at the conversation is the logon's one PIN (the normal PIN
// cache policy of package card); the key's own PIN policy wins: an "always"
// key is asked for again through the conversation at each use, a "never"
// key not at all. pam_exec's [Authtok] hands its PIN out once
// ([ErrAuthtokSpent] after that), so it is never presented again unasked. A
// card in a PIN-pad reader takes the PIN on the reader ([EnterOnReader]).
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
