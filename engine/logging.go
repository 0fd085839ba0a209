package engine

import (
	"io"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger returns the engine's logger for a validated level and format.
func NewLogger(level, format string, w io.Writer) logr.Logger {
	lvl := zapcore.InfoLevel
	switch level {
	case "debug":
		lvl = zapcore.DebugLevel
	case "error":
		lvl = zapcore.ErrorLevel
	}
	return zap.New(
		zap.WriteTo(w),
		zap.Level(lvl),
		zap.UseDevMode(false),
		zap.StacktraceLevel(zapcore.PanicLevel),
		func(o *zap.Options) {
			// Sub-second times: whole seconds cannot order the lines of
			// two replicas handing over a Lease.
			o.TimeEncoder = zapcore.RFC3339NanoTimeEncoder
			if format == "console" {
				o.Encoder = zapcore.NewConsoleEncoder(zapConsoleConfig())
			}
		},
	)
}

func zapConsoleConfig() zapcore.EncoderConfig {
	c := zapcore.EncoderConfig{
		TimeKey: "ts", LevelKey: "level", NameKey: "logger", MessageKey: "msg",
		LineEnding: zapcore.DefaultLineEnding, EncodeLevel: zapcore.CapitalLevelEncoder,
		EncodeTime: zapcore.ISO8601TimeEncoder, EncodeDuration: zapcore.StringDurationEncoder,
	}
	return c
}
