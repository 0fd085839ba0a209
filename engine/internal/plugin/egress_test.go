package plugin

import (
	"context"
	"errors"
	"testing"
)

func TestGuardDial(t *testing.T) {
	tests := []struct {
		allowed []string
		address string
		ok      bool
	}{
		{nil, "93.184.216.34:443", true},
		{nil, "127.0.0.1:8080", false},
		{nil, "[::1]:8080", false},
		{nil, "10.1.2.3:80", false},
		{nil, "192.168.0.10:80", false},
		{nil, "169.254.169.254:80", false}, // cloud metadata
		{nil, "100.64.0.1:80", false},
		{nil, "0.0.0.0:80", false},
		{[]string{"127.0.0.1:8080"}, "127.0.0.1:8080", true},
		{[]string{"127.0.0.1"}, "127.0.0.1:9999", true},
		{[]string{"localhost:8080"}, "127.0.0.1:8080", true},
		{[]string{"localhost:8080"}, "[::1]:8080", true},
		{[]string{"hooks.internal:443"}, "10.0.0.7:443", false}, // a name that resolves privately is not explicit
		{[]string{"[fd00::1]:443"}, "[fd00::1]:443", true},
	}
	for _, tt := range tests {
		ctx := withPrivateAllowed(context.Background(), tt.allowed)
		err := guardDial(ctx, "tcp", tt.address, nil)
		if tt.ok && err != nil {
			t.Errorf("%v → %s: %v, want allowed", tt.allowed, tt.address, err)
		}
		if !tt.ok && !errors.Is(err, errPrivateAddress) {
			t.Errorf("%v → %s: %v, want refused", tt.allowed, tt.address, err)
		}
	}
}
