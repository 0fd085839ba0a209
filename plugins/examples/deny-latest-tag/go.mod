module github.com/weir-gitops/weir/plugins/examples/deny-latest-tag

go 1.26

require github.com/weir-gitops/weir/plugins/sdk v0.0.0

replace github.com/weir-gitops/weir/plugins/sdk => ../../sdk
