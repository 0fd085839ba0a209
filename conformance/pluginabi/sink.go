package pluginabi

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
)

// sink is the local HTTP server notify plugins deliver to. It records every
// request and answers with the status set last.
type sink struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	host string // host:port, as an allowedHosts entry

	mu       sync.Mutex
	status   int
	requests []request
}

// request is what the sink received.
type request struct {
	Method, Path, Body string
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the HTTP sink: %w", err)
	}
	s := &sink{ln: ln, host: ln.Addr().String(), status: http.StatusOK}
	s.url = "http://" + s.host + "/hook"
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	s.requests = append(s.requests, request{Method: r.Method, Path: r.URL.RequestURI(), Body: string(body)})
	status := s.status
	s.mu.Unlock()
	w.WriteHeader(status)
}

// reset clears the recorded requests and sets the status to answer with.
func (s *sink) reset(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.status = nil, status
}

// received returns the requests since the last reset.
func (s *sink) received() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func (s *sink) close() { _ = s.srv.Close() }
