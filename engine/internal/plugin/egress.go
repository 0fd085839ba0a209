package plugin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// errPrivateAddress refuses a connection to a loopback, private or
// link-local address that the Plugin's allowedHosts do not name.
var errPrivateAddress = errors.New("connection to a private address refused")

type privateAllowedKey struct{}

// withPrivateAllowed lets the dials of one call reach the addresses that
// allowedHosts names explicitly: IP literals, and loopback for "localhost".
func withPrivateAllowed(ctx context.Context, allowed []string) context.Context {
	set := map[string]bool{}
	for _, a := range allowed {
		h := a
		if host, _, err := net.SplitHostPort(a); err == nil {
			h = host
		}
		h = strings.Trim(strings.ToLower(h), "[]")
		if ip := net.ParseIP(h); ip != nil {
			set[ip.String()] = true
		}
		if h == "localhost" {
			set["127.0.0.1"], set["::1"] = true, true
		}
	}
	return context.WithValue(ctx, privateAllowedKey{}, set)
}

var cgnat = &net.IPNet{IP: net.IPv4(100, 64, 0, 0), Mask: net.CIDRMask(10, 32)}

func isPrivate(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() || cgnat.Contains(ip)
}

// guardDial runs on the resolved address of every connection, so a name
// that resolves to a private address (DNS rebinding included) is refused
// unless that address was allowed explicitly.
func guardDial(ctx context.Context, _, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return errPrivateAddress
	}
	if !isPrivate(ip) {
		return nil
	}
	if set, _ := ctx.Value(privateAllowedKey{}).(map[string]bool); set[ip.String()] {
		return nil
	}
	return errPrivateAddress
}

// defaultHTTPClient is the client of http_call: no proxy, connections to
// private addresses guarded, bounded time.
func defaultHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, ControlContext: guardDial}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConnsPerHost:   4,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
}
