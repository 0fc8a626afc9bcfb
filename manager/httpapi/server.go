// Package httpapi serves the manager's HTTP endpoints: /healthz, the
// clusters' status as JSON under /api/v1/clusters, and Prometheus metrics
// on /metrics.
//
// It is off unless the daemon is given a listen address. Bound beyond
// loopback it refuses to start without a bearer token, and with a token
// (required or not) every endpoint but /healthz demands it. Only GET and
// HEAD are served. Answers never carry a password: ClusterStatus has no
// field for one, and free text is scrubbed of the configured passwords.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors.
var (
	// ErrTokenRequired: the listen address is not loopback and no token
	// file was given.
	ErrTokenRequired = errors.New("httpapi: a bearer token is required when listening beyond loopback")
	// ErrBadToken: the token file is unusable (empty, too short, several
	// words, readable by other users).
	ErrBadToken = errors.New("httpapi: unusable token file")
	// ErrBadAddr: the listen address is not host:port.
	ErrBadAddr = errors.New("httpapi: bad listen address")
)

// MinTokenLen is the shortest token accepted (openssl rand -hex 16 gives 32).
const MinTokenLen = 16

// Timeouts of the HTTP server.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	// ShutdownTimeout bounds Run's graceful shutdown once its context
	// ended; open connections are closed after it.
	ShutdownTimeout = 5 * time.Second
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address, host:port (--http). The host must be an
	// IP address or "localhost"; an empty host means every interface.
	Addr string
	// TokenFile holds the bearer token (--http_token_file), "" for none.
	// Required unless Addr is loopback; the file must not be readable by
	// other users.
	TokenFile string
	// Source answers the status endpoints. Required.
	Source Source
	// Metrics serves /metrics (metrics.Recorder's Handler); nil answers
	// 404.
	Metrics http.Handler
	// Secrets returns the passwords to scrub from free text (SecretsOf of
	// the clusters' configurations); called per request, so a reload can
	// change them. Nil scrubs nothing.
	Secrets func() []string
	// Logger logs the listen address and refused requests (never a token);
	// nil discards.
	Logger *slog.Logger
}

// Server is the HTTP API server.
type Server struct {
	addr     string
	token    []byte // sha256 of the token; nil when none
	src      Source
	metrics  http.Handler
	secrets  func() []string
	log      *slog.Logger
	handler  http.Handler
	srv      *http.Server
	mu       sync.Mutex
	ln       net.Listener
	serving  bool
	shutdown bool
}

// New checks cfg, reads the token file and returns a Server that is not
// listening yet.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("httpapi: no Source")
	}
	loopback, err := IsLoopback(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr:    cfg.Addr,
		src:     cfg.Source,
		metrics: cfg.Metrics,
		secrets: cfg.Secrets,
		log:     cfg.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.TokenFile != "":
		tok, err := readToken(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(tok))
		s.token = sum[:]
	case !loopback:
		return nil, fmt.Errorf("%w: --http=%s is not a loopback address; give --http_token_file or listen on 127.0.0.1", ErrTokenRequired, cfg.Addr)
	}
	s.handler = s.routes()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// IsLoopback reports whether a listen address (host:port) binds loopback
// only: 127.0.0.0/8, ::1 or localhost. An empty host (every interface) or
// another name is not loopback.
func IsLoopback(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("%w %q: %v", ErrBadAddr, addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return false, fmt.Errorf("%w %q: bad port %q", ErrBadAddr, addr, port)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // "" (every interface) or a name
	}
	return ip.Unmap().IsLoopback(), nil
}

// readToken reads a bearer token file: one word, at least MinTokenLen
// bytes, the file not accessible to other users.
func readToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w %s: %v", ErrBadToken, path, err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return "", fmt.Errorf("%w %s: mode %04o lets other users read it; chmod o-rwx %s", ErrBadToken, path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w %s: %v", ErrBadToken, path, err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", fmt.Errorf("%w %s: empty", ErrBadToken, path)
	case strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "", fmt.Errorf("%w %s: the token must be one word without spaces or control characters", ErrBadToken, path)
	case len(tok) < MinTokenLen:
		return "", fmt.Errorf("%w %s: the token has %d characters, at least %d are needed (openssl rand -hex 16)", ErrBadToken, path, len(tok), MinTokenLen)
	}
	return tok, nil
}

// Handler returns the server's handler (for a test or another server).
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds the listen address; Run calls it when it was not called
// before. Calling it first reports a bind failure before the daemon
// starts its other actors and tells the bound port (Addr).
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return http.ErrServerClosed
	}
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.log.Info("http listening", "addr", ln.Addr().String(), "token", s.token != nil)
	return nil
}

// Addr returns the bound address once listening (the port chosen for
// ":0"), else the configured one.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Run listens (unless Listen was called) and serves until ctx ends or
// serving fails. When ctx ends it shuts down gracefully within
// ShutdownTimeout and returns nil; a listen or serve error is returned
// at once. It fits a run group: cancel ctx to interrupt it. Call it once.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		if errors.Is(err, http.ErrServerClosed) {
			return nil // shut down before it ran
		}
		return err
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("httpapi: Run called twice")
	}
	ln := s.ln
	s.serving = true
	s.mu.Unlock()

	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("httpapi: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	<-errc
	return err
}

// Shutdown stops the server gracefully: it stops accepting, waits for
// running requests until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	ln, serving := s.ln, s.serving
	s.mu.Unlock()
	if !serving {
		if ln != nil {
			return ln.Close()
		}
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("httpapi: shut down %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /api/v1/clusters", s.clusters)
	mux.HandleFunc("GET /api/v1/clusters/{app}", s.cluster)
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	})
	return s.auth(onlyGet(mux))
}

// onlyGet answers 405 to any method but GET and HEAD.
func onlyGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// auth demands the bearer token, when one is configured, on every path but
// /healthz.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.token == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			s.log.Debug("http request without a token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="gomha"`)
			writeError(w, http.StatusUnauthorized, "bearer token required")
			return
		}
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], s.token) != 1 {
			s.log.Warn("http request with a wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="gomha", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if rd, ok := s.src.(Readiness); ok {
		if err := rd.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+s.clean(err.Error())+"\n")
			return
		}
	}
	_, _ = io.WriteString(w, "ok\n")
}

// clusterList is /api/v1/clusters' answer.
type clusterList struct {
	Clusters []ClusterStatus `json:"clusters"`
}

func (s *Server) clusters(w http.ResponseWriter, r *http.Request) {
	sts := s.src.Clusters()
	secrets := s.secretList()
	out := clusterList{Clusters: make([]ClusterStatus, 0, len(sts))}
	for _, st := range sts {
		out.Clusters = append(out.Clusters, scrub(st, secrets))
	}
	slices.SortFunc(out.Clusters, func(a, b ClusterStatus) int { return strings.Compare(a.App, b.App) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	st, ok := s.src.Cluster(app)
	if !ok {
		writeError(w, http.StatusNotFound, "no cluster "+app)
		return
	}
	writeJSON(w, http.StatusOK, scrub(st, s.secretList()))
}

func (s *Server) secretList() []string {
	if s.secrets == nil {
		return nil
	}
	return s.secrets()
}

func (s *Server) clean(text string) string {
	secrets := slices.Clone(s.secretList())
	sortLongestFirst(secrets)
	return redact(text, secrets)
}

// errorBody is every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error": "encoding the answer failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
