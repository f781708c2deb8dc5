package stratumproxy

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
)

// cliSelfSigned makes a certificate for 127.0.0.1 and a pool of roots
// that trusts it.
func cliSelfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test pool"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

func TestClientTLS(t *testing.T) {
	cert, roots := cliSelfSigned(t)
	for _, scheme := range []string{SchemeTLS, SchemeSSL} {
		t.Run(scheme, func(t *testing.T) {
			cliNoLeaks(t)
			pool := newCliPool(t, &tls.Config{Certificates: []tls.Certificate{cert}})
			h := newCliHarness(t, pool.url(scheme, "w:x"), func(c *ClientConfig) {
				c.TLS = &tls.Config{RootCAs: roots}
			})
			pc := cliReady(t, pool, h)
			if _, ok := pc.nc.(*tls.Conn); !ok {
				t.Fatal("pool connection is not TLS")
			}
			pc.send(cliNotify("t1", true))
			if job := h.wait(t, EventJob).Job; job.ID != "t1" {
				t.Errorf("job %q over TLS, want t1", job.ID)
			}
		})
	}
}

func TestClientTLSUntrusted(t *testing.T) {
	cliNoLeaks(t)
	cert, _ := cliSelfSigned(t)
	pool := newCliPool(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	h := newCliHarness(t, pool.url(SchemeTLS, "w:x"), nil) // system roots only
	go func() {
		// Drive the server side of the handshake so the client sees the
		// certificate; the pool's cleanup closes the connection.
		nc, ok := <-pool.conns
		if ok {
			_ = nc.(*tls.Conn).Handshake()
			nc.Close()
		}
	}()
	ev := h.wait(t, EventDisconnected)
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "certificate") {
		t.Errorf("untrusted pool: %v, want a certificate error", ev.Err)
	}
}
