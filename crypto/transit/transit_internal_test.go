package transit

import (
	"errors"
	"net/http"
	"testing"

	"github.com/mosaicstack/mosaic/crypto"
)

// Every text OpenBao v2.6.2 answers for a missing key, path by path, is ErrKeyNotFound.
func TestMapMessageMissingKey(t *testing.T) {
	for _, msg := range []string{
		"encryption key not found",                   // decrypt, rewrap, datakey
		"key not found",                              // keys/K/rotate
		"no existing key named nokey could be found", // keys/K/config
		"invalid key name",                           // keys/K/trim
		"error deleting policy nokey: could not delete key; not found", // DELETE keys/K
	} {
		if err := mapMessage(http.StatusBadRequest, msg); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Errorf("%q: %v; want ErrKeyNotFound", msg, err)
		}
	}
	if err := mapMessage(http.StatusBadRequest, "error deleting policy k: deletion is not allowed for this key"); errors.Is(err, crypto.ErrKeyNotFound) {
		t.Errorf("a key whose deletion is not allowed: %v; it exists", err)
	}
}
