package kdc

import (
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
)

// SetKDCReqField is setKDCReqField, for the tests of package kdc_test.
func SetKDCReqField(tb testing.TB, msg []byte, inBody bool, n int, content []byte) []byte {
	return setKDCReqField(tb, msg, inBody, n, content)
}

// SplitKDCReq is splitKDCReq, giving the message tag of a request it
// accepts, for the tests of package kdc_test.
func SplitKDCReq(msg []byte) (msgTag int, err error) {
	r, err := splitKDCReq(msg)
	return r.msgTag, err
}

// DecodeKDCReq is decodeKDCReq, for the tests of package kdc_test.
func DecodeKDCReq(msg []byte, msgTag int) (messages.KDCReqFields, error) {
	return decodeKDCReq(msg, msgTag)
}

// SetWorkerIdleTimeout sets how long a server's idle workers wait for a
// request before they end, until the test ends.
func SetWorkerIdleTimeout(tb testing.TB, d time.Duration) {
	old := workerIdleTimeout
	workerIdleTimeout = d
	tb.Cleanup(func() { workerIdleTimeout = old })
}
