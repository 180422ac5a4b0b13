package store_test

import (
	"testing"

	"github.com/mosaicstack/mosaic/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
