module github.com/weir-gitops/weir/engine/cli/testdata/abifixtures

go 1.26

require github.com/weir-gitops/weir/plugins/sdk v0.0.0

replace github.com/weir-gitops/weir/plugins/sdk => ../../../../plugins/sdk
