module github.com/weir-gitops/weir/plugins/sdk

go 1.26
