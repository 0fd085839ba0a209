// Package rawjson reads and writes JSON without reflection and, on the read
// side, without copying: it finds values inside a document as byte ranges,
// decodes only the values asked for, and appends Go values as JSON.
//
// It exists for the hot path of plugins in WebAssembly, where every
// allocation and every reflective step costs far more than natively: a
// transform that touches one field of each object should not decode the
// other fields at all. The engine uses it too, to split a transform's output
// into items, so the two sides of the ABI read messages by one set of rules.
//
// It must import only the standard library.
package rawjson
