package plugin

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// The input messages, written by the host straight into guest memory: no
// intermediate buffer, and the items are never decoded on the way in.

const (
	rlHead    = `{"apiVersion":"` + abi.ResourceListAPIVersion + `","kind":"` + abi.ResourceListKind + `","functionConfig":`
	rlOffsets = `,"` + abi.ItemOffsetsField + `":[`
	rlItems   = `],"items":[`
	rlTail    = `]}`
)

// resourceListMessage returns the size of the transform input for items
// and functionConfig, and a function that writes it. Before the items it
// writes where each item starts and ends inside the items array, so that a
// guest can find them without scanning them (abi.ItemOffsetsField).
func resourceListMessage(items [][]byte, functionConfig []byte) (int, func([]byte)) {
	offsets := make([]byte, 0, len(items)*16)
	pos := 1 // after the array's [
	for i, it := range items {
		if i > 0 {
			offsets = append(offsets, ',')
			pos++ // the comma between items
		}
		offsets = strconv.AppendInt(offsets, int64(pos), 10)
		pos += len(it)
		offsets = strconv.AppendInt(append(offsets, ','), int64(pos), 10)
	}
	size := len(rlHead) + len(functionConfig) + len(rlOffsets) + len(offsets) + len(rlItems) + len(rlTail)
	for i, it := range items {
		size += len(it)
		if i > 0 {
			size++
		}
	}
	return size, func(dst []byte) {
		n := copy(dst, rlHead)
		n += copy(dst[n:], functionConfig)
		n += copy(dst[n:], rlOffsets)
		n += copy(dst[n:], offsets)
		n += copy(dst[n:], rlItems)
		for i, it := range items {
			if i > 0 {
				dst[n] = ','
				n++
			}
			n += copy(dst[n:], it)
		}
		copy(dst[n:], rlTail)
	}
}

// requestMessage returns the health and notify input {"<key>":obj,"config":config}.
func requestMessage(key string, obj, config []byte) (int, func([]byte)) {
	msg := make([]byte, 0, len(key)+len(obj)+len(config)+16)
	msg = append(append(append(msg, `{"`...), key...), `":`...)
	msg = append(msg, obj...)
	if config != nil {
		msg = append(append(msg, `,"config":`...), config...)
	}
	msg = append(msg, '}')
	return len(msg), func(dst []byte) { copy(dst, msg) }
}

// encodeConfig encodes a Plugin's config for health and notify, and the
// functionConfig a transform gets when its caller sets none.
func encodeConfig(spec Spec) (config, functionConfig []byte, err error) {
	data := spec.Config
	if data != nil {
		if config, err = json.Marshal(data); err != nil {
			return nil, nil, fmt.Errorf("encode config: %w", err)
		}
	} else {
		data = map[string]any{}
	}
	functionConfig, err = json.Marshal(map[string]any{"apiVersion": "weir.dev/v1alpha1", "kind": "PluginConfig",
		"metadata": map[string]any{"name": spec.Key.Name, "namespace": spec.Key.Namespace}, "data": data})
	if err != nil {
		return nil, nil, fmt.Errorf("encode config: %w", err)
	}
	return config, functionConfig, nil
}
