package kdc

import "testing"

// SetKDCReqField is setKDCReqField, for the tests of package kdc_test.
func SetKDCReqField(tb testing.TB, msg []byte, inBody bool, n int, content []byte) []byte {
	return setKDCReqField(tb, msg, inBody, n, content)
}
