package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-logr/logr"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

const maxLogLine = 4 << 10

// callState is the per-call context of the host functions. The "weir" host
// module is shared by all instances of a runtime; the state travels in the
// call's context.
type callState struct {
	log     logr.Logger
	client  *http.Client
	allowed []string
	headers map[string]string
	maxBody int

	errMsg  string
	pending []byte // result waiting for result_read
}

type callStateKey struct{}

func withCallState(ctx context.Context, st *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, st)
}

func stateFrom(ctx context.Context) *callState {
	if st, ok := ctx.Value(callStateKey{}).(*callState); ok {
		return st
	}
	return &callState{log: logr.Discard()} // during _initialize: no call
}

func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.NewHostModuleBuilder(abi.ImportModule)
	b.NewFunctionBuilder().WithGoModuleFunction(guard(abi.ImportLog, hostLog), []api.ValueType{i32, i32, i32}, nil).Export(abi.ImportLog)
	b.NewFunctionBuilder().WithGoModuleFunction(guard(abi.ImportSetError, hostSetError), []api.ValueType{i32, i32}, nil).Export(abi.ImportSetError)
	b.NewFunctionBuilder().WithGoModuleFunction(guard(abi.ImportHTTPCall, hostHTTPCall), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.ImportHTTPCall)
	b.NewFunctionBuilder().WithGoModuleFunction(guard(abi.ImportResultRead, hostResultRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(abi.ImportResultRead)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate host module: %w", err)
	}
	return nil
}

// read returns a copy of guest memory, at most limit bytes; out of bounds
// traps the guest.
func read(m api.Module, ptr, n uint32, limit int) []byte {
	if int(n) > limit {
		n = uint32(limit)
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(faultf("guest passed out-of-bounds memory (%d bytes at %#x)", n, ptr))
	}
	return append([]byte(nil), b...)
}

func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level := abi.LogLevel(stack[0])
	msg := string(read(m, uint32(stack[1]), uint32(stack[2]), maxLogLine))
	log := stateFrom(ctx).log
	switch level {
	case abi.LevelError, abi.LevelWarn:
		log.Info(msg, "level", map[abi.LogLevel]string{abi.LevelError: "error", abi.LevelWarn: "warn"}[level])
	case abi.LevelDebug:
		log.V(1).Info(msg)
	default:
		log.Info(msg)
	}
}

func hostSetError(ctx context.Context, m api.Module, stack []uint64) {
	stateFrom(ctx).errMsg = string(read(m, uint32(stack[0]), uint32(stack[1]), maxLogLine))
}

func hostResultRead(ctx context.Context, m api.Module, stack []uint64) {
	st := stateFrom(ctx)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	if int(n) > len(st.pending) {
		n = uint32(len(st.pending))
	}
	if !m.Memory().Write(ptr, st.pending[:n]) {
		panic(faultf("guest passed out-of-bounds memory (%d bytes at %#x)", n, ptr))
	}
	st.pending = nil
	stack[0] = uint64(n)
}

func hostHTTPCall(ctx context.Context, m api.Module, stack []uint64) {
	st := stateFrom(ctx)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	resp, code := st.httpCall(ctx, m, ptr, n)
	if code != abi.CodeOK {
		stack[0] = uint64(-int64(code))
		return
	}
	st.pending = resp
	stack[0] = uint64(len(resp))
}

func (st *callState) httpCall(ctx context.Context, m api.Module, ptr, n uint32) ([]byte, abi.Code) {
	if st.maxBody == 0 || int(n) > st.maxBody {
		return nil, abi.CodeTooLarge
	}
	var req abi.HTTPRequest
	if err := json.Unmarshal(read(m, ptr, n, st.maxBody), &req); err != nil {
		return nil, abi.CodeBadInput
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, abi.CodeBadInput
	}
	if !hostAllowed(st.allowed, u) {
		st.log.Info("refused http_call to a host not in allowedHosts", "host", u.Host)
		return nil, abi.CodeDenied
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hreq, err := http.NewRequestWithContext(withPrivateAllowed(ctx, st.allowed), method, u.String(), strings.NewReader(req.Body))
	if err != nil {
		return nil, abi.CodeBadInput
	}
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	for k, v := range st.headers {
		hreq.Header.Set(k, v)
	}
	client := *st.client
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 5 || !hostAllowed(st.allowed, r.URL) {
			return errDeniedRedirect
		}
		return nil
	}
	hresp, err := client.Do(hreq)
	if err != nil {
		if errors.Is(err, errDeniedRedirect) {
			return nil, abi.CodeDenied
		}
		if errors.Is(err, errPrivateAddress) {
			st.log.Info("refused http_call to a private address not named in allowedHosts", "host", u.Host)
			return nil, abi.CodeDenied
		}
		return nil, abi.CodeUnavailable
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, int64(st.maxBody)+1))
	if err != nil {
		return nil, abi.CodeUnavailable
	}
	if len(body) > st.maxBody {
		return nil, abi.CodeTooLarge
	}
	out := abi.HTTPResponse{Status: hresp.StatusCode, Body: string(body), Headers: map[string]string{}}
	for k := range hresp.Header {
		out.Headers[k] = hresp.Header.Get(k)
	}
	b, err := json.Marshal(out)
	if err != nil || len(b) > st.maxBody {
		return nil, abi.CodeTooLarge
	}
	return b, abi.CodeOK
}

var errDeniedRedirect = errors.New("redirect to a host not in allowedHosts")

// hostAllowed matches "host" (any port) or "host:port" entries.
func hostAllowed(allowed []string, u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range allowed {
		a = strings.ToLower(a)
		if h, p, err := net.SplitHostPort(a); err == nil {
			if h == host && p == port {
				return true
			}
			continue
		}
		if a == host {
			return true
		}
	}
	return false
}
