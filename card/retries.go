package card

import "fmt"

// Tries-left values of tokens that flag the count instead of telling it.
// A PKCS #11 token says only whether few tries are left
// (CKF_USER_PIN_COUNT_LOW), one is (CKF_USER_PIN_FINAL_TRY) or none is
// (CKF_USER_PIN_LOCKED). Its last try is 1 and no try is 0, as for PIV; the
// two values below stand for "more than one", so code that warns at 1 and
// refuses at 0 works unchanged. Say them in words with [TriesLeft].
const (
	// RetriesUncounted: more than one try is left; the token does not say
	// how many.
	RetriesUncounted = 1 << 20
	// RetriesLow: more than one try is left, but few (the token's "low").
	RetriesLow = RetriesUncounted + 1
)

// TriesLeft says n in words: "3 tries left", "1 try left" (the final try),
// "no tries left", "tries left: low" for [RetriesLow] and "tries left: not
// counted" for [RetriesUncounted].
func TriesLeft(n int) string {
	switch {
	case n == RetriesLow:
		return "tries left: low"
	case n == RetriesUncounted:
		return "tries left: not counted"
	case n == 1:
		return "1 try left"
	case n == 0:
		return "no tries left"
	}
	return fmt.Sprintf("%d tries left", n)
}

// Counted reports whether n is an exact number of tries.
func Counted(n int) bool { return n < RetriesUncounted }
