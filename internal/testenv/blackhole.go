package testenv

import (
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Blackhole listens on 127.0.0.1 and returns its address ("127.0.0.1:PORT"):
// every connection is accepted and then held, open and silent, reading
// nothing and writing nothing, until the test ends. It stands for a
// server that cannot be reached in the way that is hardest on a client: a
// TCP connection succeeds, and no answer ever comes (a firewall that
// eats packets after the handshake, a hung load balancer, a NAS half
// awake).
func Blackhole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return l.Addr().String()
}
