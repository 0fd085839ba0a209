package build

import (
	"io/fs"
	"path/filepath"

	"sigs.k8s.io/kustomize/kyaml/resid"
)

type (
	resID           = resid.ResId
	resGvk          = resid.Gvk
	filesysFileInfo = fs.FileInfo
)

var filepathSkipDir = filepath.SkipDir
