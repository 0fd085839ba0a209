package abi

// Version is the ABI version a module declares in its metadata.
const Version = "v1"

// CustomSection is the name of the Wasm custom section that holds the
// module's Metadata as JSON.
const CustomSection = "weir.plugin.v1"

// Exports a module provides. All pointers and lengths are unsigned 32-bit
// offsets into the module's exported memory "memory".
const (
	// ExportInitialize is the WASI reactor initializer, called once after
	// instantiation and before any other export.
	ExportInitialize = "_initialize"
	// ExportAlloc is alloc(size u32) -> ptr u32: reserve size bytes that the
	// host may write into. It returns 0 when it cannot allocate.
	ExportAlloc = "weir_alloc"
	// ExportFree is free(ptr u32): release a buffer returned by ExportAlloc or
	// an output buffer returned by an extension point.
	ExportFree = "weir_free"
	// ExportTransform is transform(ptr u32, len u32) -> u64 over a ResourceList.
	ExportTransform = "weir_transform"
	// ExportHealth is health(ptr u32, len u32) -> u64 over a HealthRequest.
	ExportHealth = "weir_health"
	// ExportNotify is notify(ptr u32, len u32) -> u64 over a NotifyRequest.
	ExportNotify = "weir_notify"
)

// Host imports, all in module ImportModule.
const (
	ImportModule = "weir"
	// ImportLog is log(level u32, ptr u32, len u32): one UTF-8 log line.
	ImportLog = "log"
	// ImportSetError is set_error(ptr u32, len u32): a UTF-8 message the host
	// attaches to the error code the current call is about to return.
	ImportSetError = "set_error"
	// ImportHTTPCall is http_call(ptr u32, len u32) -> i64 over an
	// HTTPRequest. A result >= 0 is the length of the pending HTTPResponse,
	// read with ImportResultRead; a negative result is -Code.
	ImportHTTPCall = "http_call"
	// ImportResultRead is result_read(ptr u32, len u32) -> u32: copy up to len
	// bytes of the pending host result to ptr, clear it, return bytes copied.
	ImportResultRead = "result_read"
)

// Capability names an extension point a module serves.
type Capability string

// Extension points.
const (
	CapabilityTransform Capability = "transform"
	CapabilityHealth    Capability = "health"
	CapabilityNotify    Capability = "notify"
)

// Export returns the export that serves c, or "" if c is unknown.
func (c Capability) Export() string {
	switch c {
	case CapabilityTransform:
		return ExportTransform
	case CapabilityHealth:
		return ExportHealth
	case CapabilityNotify:
		return ExportNotify
	}
	return ""
}

// Code is an error code. Guests return them from extension points; the host
// returns them (negated) from http_call.
type Code uint32

// Error codes. 0 is never returned as an error.
const (
	CodeOK          Code = 0
	CodeBadInput    Code = 1 // the input could not be decoded
	CodeHandler     Code = 2 // the handler failed; see set_error
	CodeUnsupported Code = 3 // no handler for this extension point
	CodePanic       Code = 4 // the handler panicked
	CodeBadOutput   Code = 5 // the output could not be encoded or allocated
	CodeDenied      Code = 6 // host: the request is not allowed (allowedHosts)
	CodeUnavailable Code = 7 // host: the request failed (network, timeout)
	CodeTooLarge    Code = 8 // host: a request or response exceeds a limit
)

func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeBadInput:
		return "bad input"
	case CodeHandler:
		return "handler error"
	case CodeUnsupported:
		return "unsupported"
	case CodePanic:
		return "panic"
	case CodeBadOutput:
		return "bad output"
	case CodeDenied:
		return "denied"
	case CodeUnavailable:
		return "unavailable"
	case CodeTooLarge:
		return "too large"
	}
	return "unknown"
}

// Pack packs an output buffer into an extension point's u64 result:
// ptr<<32 | len. ptr must not be 0.
func Pack(ptr, length uint32) uint64 { return uint64(ptr)<<32 | uint64(length) }

// PackError packs an error code: the high 32 bits are 0 and the low 32 bits
// hold the code.
func PackError(c Code) uint64 { return uint64(c) }

// Unpack splits an extension point's result. When ptr is 0 the result is an
// error and code holds it.
func Unpack(v uint64) (ptr, length uint32, code Code) {
	ptr, length = uint32(v>>32), uint32(v)
	if ptr == 0 {
		return 0, 0, Code(length)
	}
	return ptr, length, CodeOK
}

// LogLevel is the level passed to the log import.
type LogLevel uint32

// Log levels.
const (
	LevelDebug LogLevel = 0
	LevelInfo  LogLevel = 1
	LevelWarn  LogLevel = 2
	LevelError LogLevel = 3
)
