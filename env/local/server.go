package local

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// server is one in-process HTTP server on a free loopback port.
type server struct {
	srv  *http.Server
	url  *url.URL
	done chan struct{} // closed when Serve has returned

	mu    sync.Mutex
	fresh map[net.Conn]bool // accepted connections that have not sent a request yet
}

// startServer listens on 127.0.0.1:0 and serves h until stop.
func startServer(h http.Handler, log *slog.Logger) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		url:   &url.URL{Scheme: "http", Host: ln.Addr().String()},
		done:  make(chan struct{}),
		fresh: map[net.Conn]bool{},
	}
	s.srv.ConnState = s.track
	go func() {
		defer close(s.done)
		// Serve returns http.ErrServerClosed after stop; any other error
		// means the listener broke, which stop then reports nothing about:
		// requests to it fail and say so.
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("local server stopped serving", "address", s.url.Host, "error", err)
		}
	}()
	return s, nil
}

// track remembers which connections have not sent a request yet.
func (s *server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// stop closes the listener, lets requests in flight finish until ctx ends
// (then closes their connections), and waits for the server's goroutines.
// Connections that never sent a request are closed at once, as Envoy drains
// them: http.Server.Shutdown would otherwise wait 5 s for each (a client's
// transport often dials one more connection than it uses).
func (s *server) stop(ctx context.Context) error {
	s.srv.SetKeepAlivesEnabled(false)
	s.mu.Lock()
	for c := range s.fresh {
		_ = c.Close() // nothing was sent on it; an error changes nothing
	}
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// Requests were cut short; the server is stopped all the same.
		return nil
	}
	return err
}
