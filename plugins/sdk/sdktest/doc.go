// Package sdktest runs sdk handlers natively, under go test, through the same
// JSON encoding the Wasm exports use, with a recording Host.
//
// It must import only the standard library, sdk and abi.
package sdktest
