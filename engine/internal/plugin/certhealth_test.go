package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-gitops/weir/engine/internal/testenv"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// The C example plugin (plugins/examples/cert-health) through the real
// host: a module written from docs/plugin-abi.md alone, without the Go SDK.
// Building it needs clang, lld and wasi-libc; without them these tests fail
// and say to run `make wasi-toolchain`.

func loadCertHealth(t testing.TB, h *Host) *Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "test", Name: "cert-health"},
		Wasm: testenv.ExamplePlugin(t, "cert-health"), Limits: Limits{MaxInstances: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// certificate is a cert-manager Certificate at generation 2 with status
// (none when nil).
func certificate(status map[string]any) map[string]any {
	obj := map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
		"metadata": map[string]any{"name": "web", "namespace": "apps", "generation": int64(2)},
		"spec":     map[string]any{"secretName": "web-tls", "dnsNames": []any{"web.example.com"}}}
	if status != nil {
		obj["status"] = status
	}
	return obj
}

func cond(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": int64(2)}
}

func certStatus(notAfter string, conds ...map[string]any) map[string]any {
	s := map[string]any{"observedGeneration": int64(2), "conditions": toAny(conds)}
	if notAfter != "" {
		s["notAfter"] = notAfter
	}
	return s
}

func toAny(m []map[string]any) []any {
	out := make([]any, len(m))
	for i := range m {
		out[i] = m[i]
	}
	return out
}

func TestHealthCertC(t *testing.T) {
	future := time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	stale := certStatus(future, cond("Ready", "True", "Ready", "Certificate is up to date and has not expired"))
	stale["observedGeneration"] = int64(1)
	many := certStatus(future)
	var conds []any
	for i := range 2000 {
		conds = append(conds, cond("Other"+strings.Repeat("x", i%7), "False", "R", "m"))
	}
	many["conditions"] = append(conds, cond("Ready", "True", "Ready", "ok"))
	for _, tc := range []struct {
		name   string
		status map[string]any
		want   abi.HealthStatus
		msg    string // a substring of the message
	}{
		{"ready", certStatus(future, cond("Ready", "True", "Ready", "Certificate is up to date and has not expired")),
			abi.StatusCurrent, "Certificate is up to date"},
		{"ready false while issuing", certStatus("",
			cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist"),
			cond("Issuing", "True", "DoesNotExist", "Issuing certificate as Secret does not exist")),
			abi.StatusInProgress, "issuing: Issuing certificate as Secret does not exist"},
		{"renewal under way", certStatus(future, cond("Ready", "True", "Ready", "ok"),
			cond("Issuing", "True", "Renewing", "Renewing certificate as renewal was scheduled")),
			abi.StatusInProgress, "Renewing certificate"},
		{"new certificate before the trigger", certStatus("",
			cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist")),
			abi.StatusInProgress, "waiting for the first issuance"},
		{"ready false failed", certStatus("",
			cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist"),
			cond("Issuing", "False", "Failed", "The certificate request has failed to complete and will be retried: \"acme: order failed\"")),
			abi.StatusFailed, `Issuing certificate as Secret does not exist (reason DoesNotExist); last issuance: The certificate request has failed to complete and will be retried: "acme: order failed"`},
		{"ready false, another reason", certStatus("", cond("Ready", "False", "IncorrectIssuer", "Issuer of the certificate is not up to date: \"old\"")),
			abi.StatusFailed, `Issuer of the certificate is not up to date: "old" (reason IncorrectIssuer)`},
		{"ready unknown", certStatus("", cond("Ready", "Unknown", "", "")), abi.StatusInProgress, "Ready condition is Unknown"},
		{"no ready condition", certStatus(""), abi.StatusInProgress, "Ready condition"},
		{"no status", nil, abi.StatusInProgress, "no status yet"},
		{"stale observedGeneration", stale, abi.StatusInProgress, "has not observed generation 2 yet (observedGeneration 1)"},
		{"expired", certStatus("2020-01-01T00:00:00Z", cond("Ready", "True", "Ready", "ok")),
			abi.StatusFailed, "certificate expired at 2020-01-01T00:00:00Z"},
		{"expired, with an offset", certStatus("2020-01-01T00:00:00.5+02:00", cond("Ready", "True", "Ready", "ok")),
			abi.StatusFailed, "certificate expired at 2020-01-01T00:00:00.5+02:00"},
		{"unparsable notAfter is not checked", certStatus("soon", cond("Ready", "True", "Ready", "ok")), abi.StatusCurrent, "ok"},
		{"escapes and unicode survive", certStatus("", cond("Ready", "False", "Failed", "bad \"name\"\n\t\\ é 😀 \x01")),
			abi.StatusFailed, "bad \"name\"\n\t\\ é 😀 \x01 (reason Failed)"},
		{"2000 other conditions", many, abi.StatusCurrent, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadCertHealth(t, newTestHost(t, Options{}))
			res, err := p.Health(context.Background(), certificate(tc.status))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want || !strings.Contains(res.Message, tc.msg) {
				t.Fatalf("got %s %q, want %s with %q", res.Status, res.Message, tc.want, tc.msg)
			}
		})
	}
}

// rawHealth calls weir_health on the pooled instance with input bytes the
// host's encoder would never produce, and returns the instance it used.
func rawHealth(t *testing.T, p *Plugin, in []byte) (*instance, []byte, *CallError) {
	t.Helper()
	ctx := context.Background()
	inst, err := p.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := &callState{log: p.log}
	out, cerr := inst.run(withCallState(ctx, st), abi.CapabilityHealth.Export(), len(in), func(dst []byte) { copy(dst, in) }, 1<<20)
	if cerr != nil {
		cerr.Message = st.errMsg
	}
	if cerr == nil || cerr.Kind == ErrGuest {
		p.pool.put(inst)
	} else {
		p.pool.discard(ctx, inst)
	}
	return inst, out, cerr
}

// TestHealthCertCStrings checks the decoding and escaping of strings with
// escapes and multi-byte characters at every offset of the scanner's
// 8-byte fast path.
func TestHealthCertCStrings(t *testing.T) {
	p := loadCertHealth(t, newTestHost(t, Options{}))
	for i := range 17 {
		msg := strings.Repeat("a", i) + "\"q\" \\ \n\t\x01 é 😀 \u2028" + strings.Repeat("b", i)
		res, err := p.Health(context.Background(), certificate(certStatus("", cond("Ready", "False", "Failed", msg))))
		if err != nil {
			t.Fatal(err)
		}
		if want := msg + " (reason Failed)"; res.Status != abi.StatusFailed || res.Message != want {
			t.Fatalf("offset %d: got %s %q, want Failed %q", i, res.Status, res.Message, want)
		}
	}
}

func TestHealthCertCMalformed(t *testing.T) {
	p := loadCertHealth(t, newTestHost(t, Options{}))
	valid, err := json.Marshal(abi.HealthRequest{Object: certificate(certStatus("",
		cond("Ready", "True", "Ready", "ok \u00e9 \"q\""), cond("Issuing", "False", "", ""))),
		Config: map[string]any{"renewalWarning": "168h", "n": []any{1.5, -2e3, true, false, nil}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, in, msg string }{
		{"empty", "", "malformed input JSON at byte 0: expected an object"},
		{"not an object", "[1]", "expected an object"},
		{"truncated", string(valid[:len(valid)/2]), "malformed input JSON"},
		{"trailing data", string(valid) + " x", "data after the top-level value"},
		{"bad escape", `{"object":{"kind":"\q"}}`, "bad escape in a string"},
		{"raw control character", "{\"object\":{\"kind\":\"a\x01\"}}", "control character in a string"},
		{"bad number", `{"object":{"metadata":{"generation":01}}}`, "expected ',' or '}' in an object"},
		{"trailing comma", `{"object":{"kind":"a",}}`, "expected a string"},
		{"nested too deeply", `{"object":{"x":` + strings.Repeat("[", 100000), "nested too deeply"},
		{"no object", `{"config":{}}`, `input has no "object"`},
		{"object is not an object", `{"object":"Certificate"}`, `input has no "object"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, cerr := rawHealth(t, p, []byte(tc.in))
			if cerr == nil || cerr.Kind != ErrGuest || cerr.Code != abi.CodeBadInput || !strings.Contains(cerr.Message, tc.msg) {
				t.Fatalf("got %+v, want bad input with %q", cerr, tc.msg)
			}
		})
	}

	// A raw control character is caught at any offset of a long string.
	for i := range 17 {
		in := fmt.Sprintf("{\"object\":{\"kind\":\"%s\x1f%s\"}}", strings.Repeat("a", i), strings.Repeat("b", 17))
		if _, _, cerr := rawHealth(t, p, []byte(in)); cerr == nil || cerr.Code != abi.CodeBadInput {
			t.Fatalf("control character after %d bytes: got %v, want bad input", i, cerr)
		}
	}

	// The instance that answered bad input serves the next call.
	before, _, _ := rawHealth(t, p, []byte("{"))
	after, out, cerr := rawHealth(t, p, valid)
	if cerr != nil || before != after {
		t.Fatalf("after bad input: %v, same instance %v", cerr, before == after)
	}
	if res, err := DecodeHealth(out); err != nil || res.Status != abi.StatusCurrent {
		t.Fatalf("after bad input: %+v %v", res, err)
	}
	res, err := p.Health(context.Background(), certificate(nil))
	if err != nil || res.Status != abi.StatusInProgress {
		t.Fatalf("after bad input: %+v %v", res, err)
	}

	// Every prefix of a valid input is an answer or bad input, never a
	// trap, and the input and output buffers are released: a second pass
	// does not grow the memory.
	pass := func() uint32 {
		for i := range len(valid) {
			_, _, cerr := rawHealth(t, p, valid[:i])
			if cerr != nil && (cerr.Kind != ErrGuest || cerr.Code != abi.CodeBadInput) {
				t.Fatalf("prefix %d: %v", i, cerr)
			}
		}
		inst, _, _ := rawHealth(t, p, valid)
		return inst.mod.Memory().Size()
	}
	first := pass()
	if second := pass(); second != first {
		t.Fatalf("memory grew from %d to %d bytes over the same %d calls", first, second, len(valid))
	}
}

// FuzzHealthCertC feeds arbitrary bytes to cert-health's weir_health: every
// input gets a verdict or bad input, never a trap, on the same instance.
func FuzzHealthCertC(f *testing.F) {
	for _, obj := range []map[string]any{certificate(nil), certificate(certStatus("2020-01-01T00:00:00Z",
		cond("Ready", "False", "Failed", "a \"b\" \\u00e9"), cond("Issuing", "True", "", "")))} {
		b, err := json.Marshal(abi.HealthRequest{Object: obj, Config: map[string]any{"x": []any{1.5, nil, true}}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":{"status":{"conditions":[{"type":"Re\u0061dy","status":"True"}]}}}`))
	p := loadCertHealth(f, newTestHost(f, Options{}))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, out, cerr := rawHealth(t, p, in)
		if cerr != nil {
			if cerr.Kind != ErrGuest || cerr.Code != abi.CodeBadInput || cerr.Message == "" {
				t.Fatalf("%q: %v", in, cerr)
			}
			return
		}
		if _, err := DecodeHealth(out); err != nil {
			t.Fatalf("%q: output %q: %v", in, out, err)
		}
	})
}
