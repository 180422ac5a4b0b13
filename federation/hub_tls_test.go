package federation_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/federation"
)

// selfSigned is a certificate for 127.0.0.1 that is its own CA, and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mosaic federation test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// With TLS on the listener, the leafnode is TLS: a peer that verifies the certificate links; one
// that cannot verify it, or that comes in plain TCP, does not, though its key was accepted.
func TestHubLinkOverTLS(t *testing.T) {
	a, b, c, d := newSelf(t, "a"), newSelf(t, "b"), newSelf(t, "c"), newSelf(t, "d")
	cert, pool := selfSigned(t)
	hb, err := federation.StartHub(b, federation.HubConfig{Listen: "127.0.0.1:0",
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hb.Close)
	if !strings.HasPrefix(hb.LeafURL(), "tls://") {
		t.Fatalf("leafnode URL %q; want tls://", hb.LeafURL())
	}
	trusting, err := federation.StartHub(a, federation.HubConfig{PeerTLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(trusting.Close)
	untrusting := startHub(t, c, "") // the system's roots: b's certificate is not among them
	plain := startHub(t, d, "")
	for _, s := range []*federation.Self{a, c, d} {
		if _, err := hb.Link(s.ID, s.LeafKey, ""); err != nil { // b accepted all three
			t.Fatal(err)
		}
	}
	if _, err := trusting.Link(b.ID, "", hb.LeafURL()); err != nil {
		t.Fatal(err)
	}
	if _, err := untrusting.Link(b.ID, "", hb.LeafURL()); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Link(b.ID, "", strings.Replace(hb.LeafURL(), "tls://", "nats://", 1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !trusting.Connected(b.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the TLS leafnode did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a leafnode retries every second: give the others a go
	if untrusting.Connected(b.ID) || plain.Connected(b.ID) || hb.Connected(c.ID) || hb.Connected(d.ID) {
		t.Fatal("a peer linked without verifying the certificate, or without TLS")
	}
}
