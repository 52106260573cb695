package pam

// CreateSessionCCache is createSessionCCache, for package pam_test.
var CreateSessionCCache = createSessionCCache
