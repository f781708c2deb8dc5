package firmware

import "errors"

// The reasons an image is refused. Every rejection returned by ReadImage,
// Image.Verify, the payload reader and Updater.Install wraps exactly one
// of these, so callers (the REST API, the command line) can branch with
// errors.Is and show the wrapped message, which says what was wrong.
var (
	// ErrUnsigned means the image carries no signature at all.
	ErrUnsigned = errors.New("firmware: image is not signed")
	// ErrBadSignature means the signature is malformed, made by a key that
	// is not trusted, or does not match the manifest.
	ErrBadSignature = errors.New("firmware: bad signature")
	// ErrWrongBoard means the image does not list this board.
	ErrWrongBoard = errors.New("firmware: image is not for this board")
	// ErrTruncated means the image ended before its declared end.
	ErrTruncated = errors.New("firmware: image is truncated")
	// ErrDigest means the payload does not hash to the signed SHA-256.
	ErrDigest = errors.New("firmware: payload digest mismatch")
	// ErrDowngrade means the image is older than the running firmware and
	// the caller did not allow a downgrade.
	ErrDowngrade = errors.New("firmware: image is older than the running firmware")
	// ErrMalformed means the container, the manifest or a bundle breaks the
	// format: bad magic, lengths out of bounds, invalid JSON or fields,
	// trailing bytes, unsafe bundle entries.
	ErrMalformed = errors.New("firmware: malformed image")
	// ErrTooLarge means a section is bigger than the caller's limit.
	ErrTooLarge = errors.New("firmware: image exceeds the size limit")
	// ErrBusy means an install cannot start now: another one is running,
	// or the running slot is an unconfirmed trial (or was just abandoned)
	// and the other slot is its fallback, which must not be overwritten.
	ErrBusy = errors.New("firmware: cannot install now")
)
