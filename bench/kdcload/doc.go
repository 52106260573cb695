// Package kdcload measures a KDC under PKINIT load: it makes a realm (a test
// CA, a KDC certificate, users with logon certificates and the directory that
// maps them), runs sclogon's KDC or MIT krb5kdc on it as a child process, and
// drives it with clients that each run whole PKINIT logons — real AS-REQs
// signed with software keys, every reply verified down to the decrypted
// EncASRepPart (package kinit does the protocol).
//
// Call [NewRealm], then [StartSclogonKDC] or [StartMITKDC] for a [Process],
// then [Run] with a [Load] for each concurrency and key exchange, or
// [RunStorm] with a [Storm] to have every user log on once. The options'
// CPUs pin a KDC to one core (taskset) and [PinSelf] the load generator to
// another, for per-core figures. BenchmarkDirectory and BenchmarkStorm (go
// test -bench, run by bench/cmd/benchreport) measure sclogon's KDC over the
// harness's slapd with OCSP, and under a storm of 10,000 users. A [Process]
// reports its CPU time (utime+stime of it and its children, from /proc) and
// its peak resident set (VmHWM), so that a [Result] can say what one exchange
// cost the KDC, apart from what it cost the clients on the same machine.
//
// The measurements are only as quiet as the machine: bench/cmd/benchreport
// repeats each one and reports medians.
package kdcload
