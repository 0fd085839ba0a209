package testenv

import (
	"strings"
	"testing"
)

func TestSumCounter(t *testing.T) {
	const metrics = `# HELP rest_client_requests_total Number of HTTP requests, partitioned by status code, method, and host.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 120
rest_client_requests_total{code="201",host="127.0.0.1:6443",method="POST"} 30
rest_client_requests_total{code="409",host="127.0.0.1:6443",method="PATCH"} 2
rest_client_requests_total_other 99
workqueue_adds_total{name="gitrepository"} 7
`
	tests := []struct {
		name, metric string
		want         float64
		wantErr      bool
	}{
		{name: "labelled samples add up", metric: "rest_client_requests_total", want: 152},
		{name: "an unlabelled sample", metric: "rest_client_requests_total_other", want: 99},
		{name: "a missing metric is an error", metric: "controller_runtime_reconcile_total", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sumCounter(strings.NewReader(metrics), tt.metric)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
