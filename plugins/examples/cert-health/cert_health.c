/*
 * cert-health: a Weir health plugin, in C, for cert-manager's Certificate
 * (cert-manager.io/v1). It implements the module side of docs/plugin-abi.md
 * with nothing but wasi-libc: a WASI preview 1 reactor exporting memory,
 * weir_alloc, weir_free and weir_health.
 *
 * The input, {"object": <Certificate>, "config": <spec.config>}, is read by
 * a small validating JSON scanner that keeps only what the verdict needs:
 * metadata.generation, status.observedGeneration, status.notAfter and the
 * Ready and Issuing conditions. Strings are kept as spans into the input
 * buffer and decoded only when compared or copied into the message.
 * Malformed input of any shape returns error code 1 with a message through
 * weir.set_error; nothing in here can trap on its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Host imports (docs/plugin-abi.md, section 4). */
__attribute__((import_module("weir"), import_name("set_error")))
void weir_set_error(const char *msg, uint32_t len);

__attribute__((import_module("weir"), import_name("log")))
void weir_log(uint32_t level, const char *msg, uint32_t len);

/* Error codes (section 5). */
enum { ERR_BAD_INPUT = 1, ERR_BAD_OUTPUT = 5 };

/* Deepest nesting accepted, so that the recursive scanner has a bounded
 * stack whatever the input. */
#define MAX_DEPTH 512

/* ---- exports: memory management ---------------------------------------- */

/* weir_alloc reserves the input buffer; 0 means failure, so a zero-size
 * request still gets a real pointer. */
__attribute__((export_name("weir_alloc")))
void *weir_alloc(uint32_t size) { return malloc(size ? size : 1); }

/* weir_free releases an output buffer the host has copied. */
__attribute__((export_name("weir_free")))
void weir_free(void *ptr) { free(ptr); }

/* ---- JSON scanner ------------------------------------------------------ */

/* A JSON string as it appears in the input, without its quotes. */
typedef struct {
	const char *p;
	uint32_t n;
	int esc; /* contains a backslash escape */
	int set; /* the field was present and a string */
} str_t;

typedef struct {
	const char *start, *p, *end;
	int depth;
	const char *err; /* first error, a static string */
	const char *at;  /* where it happened */
} scan_t;

static int fail(scan_t *s, const char *msg) {
	if (!s->err) {
		s->err = msg;
		s->at = s->p;
	}
	return -1;
}

static void ws(scan_t *s) {
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* peek returns the next non-space byte, or 0 at the end. */
static char peek(scan_t *s) {
	ws(s);
	return s->p < s->end ? *s->p : 0;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* plain8 reports whether none of 8 bytes is '"', '\\' or below 0x20: the
 * bytes a string scan can pass over without a look. */
static int plain8(const char *p) {
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t w, q, b;
	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high) == 0;
}

/* scan_string reads a string at s->p (which must be '"'). Plain runs are
 * skipped 8 bytes at a time: the host's interruptible mode charges every
 * loop iteration, so long strings (annotations, certificates) are most of
 * the cost of a call. */
static int scan_string(scan_t *s, str_t *out) {
	if (peek(s) != '"') return fail(s, "expected a string");
	s->p++;
	const char *b = s->p;
	int esc = 0;
	while (s->p < s->end) {
		while (s->end - s->p >= 8 && plain8(s->p)) s->p += 8;
		if (s->p >= s->end) break;
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			if (out) {
				out->p = b;
				out->n = (uint32_t)(s->p - b);
				out->esc = esc;
				out->set = 1;
			}
			s->p++;
			return 0;
		}
		if (c < 0x20) return fail(s, "control character in a string");
		if (c == '\\') {
			esc = 1;
			if (s->end - s->p < 2) break;
			switch (s->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				s->p += 2;
				continue;
			case 'u':
				if (s->end - s->p < 6) return fail(s, "short \\u escape");
				for (int i = 2; i < 6; i++)
					if (hexval(s->p[i]) < 0) return fail(s, "bad \\u escape");
				s->p += 6;
				continue;
			default:
				return fail(s, "bad escape in a string");
			}
		}
		s->p++;
	}
	return fail(s, "unterminated string");
}

/* scan_number reads a number; *iv gets its value when it is an integer
 * that fits in int64 (written as digits, or with a zero fraction). */
static int scan_number(scan_t *s, int64_t *iv, int *isint) {
	const char *b = s->p;
	int neg = 0, ok = 1;
	uint64_t v = 0;
	if (s->p < s->end && *s->p == '-') neg = 1, s->p++;
	if (s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, "bad number");
	if (*s->p == '0') {
		s->p++;
	} else {
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			if (v > (UINT64_MAX - 9) / 10) ok = 0;
			v = v * 10 + (uint64_t)(*s->p - '0');
			s->p++;
		}
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, "bad number");
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			if (*s->p != '0') ok = 0;
			s->p++;
		}
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		ok = 0; /* 1e3 is an integer, but no Kubernetes encoder writes one */
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, "bad number");
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
	}
	(void)b;
	if (ok && v > (uint64_t)INT64_MAX) ok = 0;
	if (iv) *iv = ok ? (neg ? -(int64_t)v : (int64_t)v) : 0;
	if (isint) *isint = ok;
	return 0;
}

static int scan_literal(scan_t *s, const char *lit) {
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) return fail(s, "bad literal");
	s->p += n;
	return 0;
}

static int skip_value(scan_t *s);

/* obj_begin consumes '{'; obj_next then yields each member's key with
 * s->p at its value: 1 for a member, 0 after '}', -1 on error. The caller
 * must consume the value before the next obj_next. */
static int obj_begin(scan_t *s) {
	if (peek(s) != '{') return fail(s, "expected an object");
	if (++s->depth > MAX_DEPTH) return fail(s, "nested too deeply");
	s->p++;
	return 0;
}

static int obj_next(scan_t *s, str_t *key, int *first) {
	char c = peek(s);
	if (c == '}') {
		s->p++;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (c != ',') return fail(s, "expected ',' or '}' in an object");
		s->p++;
	}
	*first = 0;
	if (scan_string(s, key) < 0) return -1;
	if (peek(s) != ':') return fail(s, "expected ':' after an object key");
	s->p++;
	ws(s);
	return 1;
}

static int arr_begin(scan_t *s) {
	if (peek(s) != '[') return fail(s, "expected an array");
	if (++s->depth > MAX_DEPTH) return fail(s, "nested too deeply");
	s->p++;
	return 0;
}

static int arr_next(scan_t *s, int *first) {
	char c = peek(s);
	if (c == ']') {
		s->p++;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (c != ',') return fail(s, "expected ',' or ']' in an array");
		s->p++;
	}
	*first = 0;
	ws(s);
	return 1;
}

static int skip_value(scan_t *s) {
	int first = 1, r;
	str_t key;
	switch (peek(s)) {
	case '{':
		if (obj_begin(s) < 0) return -1;
		while ((r = obj_next(s, &key, &first)) > 0)
			if (skip_value(s) < 0) return -1;
		return r;
	case '[':
		if (arr_begin(s) < 0) return -1;
		while ((r = arr_next(s, &first)) > 0)
			if (skip_value(s) < 0) return -1;
		return r;
	case '"':
		return scan_string(s, NULL);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	case 0:
		return fail(s, "unexpected end of input");
	default:
		return scan_number(s, NULL, NULL);
	}
}

/* field_str reads a string value; any other value is skipped and leaves
 * the field unset. */
static int field_str(scan_t *s, str_t *out) {
	if (peek(s) == '"') return scan_string(s, out);
	out->set = 0;
	return skip_value(s);
}

/* field_int reads an integer value; *set is 0 when the value is null or
 * not an integer. */
static int field_int(scan_t *s, int64_t *v, int *set) {
	char c = peek(s);
	if (c == '-' || (c >= '0' && c <= '9')) return scan_number(s, v, set);
	*set = 0;
	return skip_value(s);
}

/* ---- strings ----------------------------------------------------------- */

static const char *utf8(uint32_t cp, char *o) {
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

static uint32_t hex4(const char *p) {
	return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

/* decode writes the unescaped bytes of a scanned string to dst, which must
 * hold s.n bytes (decoding never grows a string), and returns their count.
 * A lone surrogate becomes U+FFFD, as in Go's encoding/json. */
static uint32_t decode(str_t s, char *dst) {
	const char *p = s.p, *end = s.p + s.n;
	char *o = dst;
	while (p < end) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		char c = p[1];
		p += 2;
		switch (c) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			uint32_t cp = hex4(p);
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				uint32_t lo = hex4(p + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
			o = (char *)utf8(cp, o);
			break;
		}
		default: *o++ = c; break; /* '"', '\\', '/' */
		}
	}
	return (uint32_t)(o - dst);
}

/* eq reports whether a scanned string equals lit. */
static int eq(str_t s, const char *lit) {
	size_t n = strlen(lit);
	if (!s.set) return 0;
	if (!s.esc) return s.n == n && memcmp(s.p, lit, n) == 0;
	char tmp[128];
	if (s.n > sizeof tmp) return 0; /* decodes to more than 21 bytes */
	uint32_t m = decode(s, tmp);
	return m == n && memcmp(tmp, lit, n) == 0;
}

/* ---- output ------------------------------------------------------------ */

typedef struct {
	char *b;
	uint32_t n, cap;
	int oom;
} buf_t;

static void put(buf_t *b, const char *p, uint32_t n) {
	if (b->oom) return;
	if (b->n + n < b->n) { b->oom = 1; return; }
	if (b->n + n > b->cap) {
		uint32_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n) {
			if (cap > UINT32_MAX / 2) { b->oom = 1; return; }
			cap *= 2;
		}
		char *nb = realloc(b->b, cap);
		if (!nb) { b->oom = 1; return; }
		b->b = nb;
		b->cap = cap;
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void raw(buf_t *b, const char *lit) { put(b, lit, (uint32_t)strlen(lit)); }

/* esc writes bytes as the inside of a JSON string. */
static void esc(buf_t *b, const char *p, uint32_t n) {
	static const char hex[] = "0123456789abcdef";
	uint32_t i, last = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c != '"' && c != '\\') continue;
		put(b, p + last, i - last);
		last = i + 1;
		switch (c) {
		case '"': raw(b, "\\\""); break;
		case '\\': raw(b, "\\\\"); break;
		case '\n': raw(b, "\\n"); break;
		case '\r': raw(b, "\\r"); break;
		case '\t': raw(b, "\\t"); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(b, u, 6);
		}
		}
	}
	put(b, p + last, n - last);
}

static void text(buf_t *b, const char *lit) { esc(b, lit, (uint32_t)strlen(lit)); }

/* str writes a scanned string, decoded, as the inside of a JSON string. */
static void str(buf_t *b, str_t s) {
	if (!s.esc) {
		esc(b, s.p, s.n);
		return;
	}
	char *tmp = malloc(s.n ? s.n : 1);
	if (!tmp) { b->oom = 1; return; }
	esc(b, tmp, decode(s, tmp));
	free(tmp);
}

static void num(buf_t *b, int64_t v) {
	char d[24], *p = d + sizeof d;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do *--p = (char)('0' + u % 10); while (u /= 10);
	if (v < 0) *--p = '-';
	put(b, p, (uint32_t)(d + sizeof d - p));
}

/* ---- the Certificate --------------------------------------------------- */

typedef struct {
	str_t type, status, reason, message;
} cond_t;

typedef struct {
	int has_object, has_status;
	int64_t generation, observed;
	int has_generation, has_observed;
	str_t not_after;
	cond_t ready, issuing;
	int has_ready, has_issuing;
} cert_t;

static int scan_condition(scan_t *s, cert_t *c) {
	cond_t cd = {0};
	str_t key;
	int first = 1, r;
	if (peek(s) != '{') return skip_value(s);
	if (obj_begin(s) < 0) return -1;
	while ((r = obj_next(s, &key, &first)) > 0) {
		if (eq(key, "type")) r = field_str(s, &cd.type);
		else if (eq(key, "status")) r = field_str(s, &cd.status);
		else if (eq(key, "reason")) r = field_str(s, &cd.reason);
		else if (eq(key, "message")) r = field_str(s, &cd.message);
		else r = skip_value(s);
		if (r < 0) return -1;
	}
	if (r < 0) return -1;
	if (eq(cd.type, "Ready")) c->ready = cd, c->has_ready = 1;
	else if (eq(cd.type, "Issuing")) c->issuing = cd, c->has_issuing = 1;
	return 0;
}

static int scan_status(scan_t *s, cert_t *c) {
	str_t key;
	int first = 1, r;
	if (peek(s) != '{') return skip_value(s); /* null: no status */
	c->has_status = 1;
	if (obj_begin(s) < 0) return -1;
	while ((r = obj_next(s, &key, &first)) > 0) {
		if (eq(key, "observedGeneration")) {
			r = field_int(s, &c->observed, &c->has_observed);
		} else if (eq(key, "notAfter")) {
			r = field_str(s, &c->not_after);
		} else if (eq(key, "conditions") && peek(s) == '[') {
			int afirst = 1;
			if (arr_begin(s) < 0) return -1;
			while ((r = arr_next(s, &afirst)) > 0)
				if (scan_condition(s, c) < 0) return -1;
		} else {
			r = skip_value(s);
		}
		if (r < 0) return -1;
	}
	return r;
}

static int scan_metadata(scan_t *s, cert_t *c) {
	str_t key;
	int first = 1, r;
	if (peek(s) != '{') return skip_value(s);
	if (obj_begin(s) < 0) return -1;
	while ((r = obj_next(s, &key, &first)) > 0) {
		if (eq(key, "generation")) r = field_int(s, &c->generation, &c->has_generation);
		else r = skip_value(s);
		if (r < 0) return -1;
	}
	return r;
}

static int scan_object(scan_t *s, cert_t *c) {
	str_t key;
	int first = 1, r;
	if (obj_begin(s) < 0) return -1;
	c->has_object = 1;
	while ((r = obj_next(s, &key, &first)) > 0) {
		if (eq(key, "metadata")) r = scan_metadata(s, c);
		else if (eq(key, "status")) r = scan_status(s, c);
		else r = skip_value(s);
		if (r < 0) return -1;
	}
	return r;
}

/* scan_input reads {"object": ..., "config": ...}; the config is checked
 * for well-formedness only. */
static int scan_input(scan_t *s, cert_t *c) {
	str_t key;
	int first = 1, r;
	if (obj_begin(s) < 0) return -1;
	while ((r = obj_next(s, &key, &first)) > 0) {
		if (eq(key, "object") && peek(s) == '{') r = scan_object(s, c);
		else r = skip_value(s);
		if (r < 0) return -1;
	}
	if (r < 0) return -1;
	if (peek(s) != 0) return fail(s, "data after the top-level value");
	return 0;
}

/* ---- time -------------------------------------------------------------- */

static int digits(const char *p, int n, int *v) {
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return 0;
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* rfc3339 parses 2006-01-02T15:04:05[.frac](Z|+07:00) into Unix seconds. */
static int rfc3339(str_t s, int64_t *out) {
	const char *p = s.p, *end = s.p + s.n;
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	if (s.esc || s.n < 20) return -1;
	if (digits(p, 4, &Y) || p[4] != '-' || digits(p + 5, 2, &M) || p[7] != '-' ||
	    digits(p + 8, 2, &D) || (p[10] != 'T' && p[10] != 't') || digits(p + 11, 2, &h) ||
	    p[13] != ':' || digits(p + 14, 2, &m) || p[16] != ':' || digits(p + 17, 2, &sec))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;
	p += 19;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9') return -1;
		while (p < end && *p >= '0' && *p <= '9') p++;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-') && end - p >= 6) {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om)) return -1;
		p += 6;
	} else {
		return -1;
	}
	if (p != end) return -1;
	*out = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - sign * (oh * 3600 + om * 60);
	return 0;
}

/* ---- verdict ----------------------------------------------------------- */

static void verdict(buf_t *b, const char *status) {
	raw(b, "{\"status\":\"");
	raw(b, status);
	raw(b, "\",\"message\":\"");
}

/* cond_msg writes "<message> (<reason>)", or what there is of it. */
static void cond_msg(buf_t *b, cond_t *c, const char *fallback) {
	if (c->message.set && c->message.n) str(b, c->message);
	else text(b, fallback);
	if (c->reason.set && c->reason.n) {
		text(b, " (reason ");
		str(b, c->reason);
		text(b, ")");
	}
}

static void health(buf_t *b, cert_t *c) {
	if (!c->has_status) {
		verdict(b, "InProgress");
		text(b, "waiting for cert-manager: the Certificate has no status yet");
		goto done;
	}
	if (c->not_after.set) {
		int64_t t;
		if (rfc3339(c->not_after, &t) == 0) {
			if (t <= (int64_t)time(NULL)) {
				verdict(b, "Failed");
				text(b, "certificate expired at ");
				str(b, c->not_after);
				if (c->has_issuing && eq(c->issuing.status, "True")) text(b, "; a new one is being issued");
				goto done;
			}
		} else {
			static const char msg[] = "status.notAfter is not an RFC 3339 time; expiry not checked";
			weir_log(2, msg, sizeof msg - 1);
		}
	}
	if (c->has_generation && c->has_observed && c->observed < c->generation) {
		verdict(b, "InProgress");
		text(b, "cert-manager has not observed generation ");
		num(b, c->generation);
		text(b, " yet (observedGeneration ");
		num(b, c->observed);
		text(b, ")");
		goto done;
	}
	if (c->has_issuing && eq(c->issuing.status, "True")) {
		verdict(b, "InProgress");
		text(b, "issuing: ");
		cond_msg(b, &c->issuing, "a new certificate is being issued");
		goto done;
	}
	if (!c->has_ready) {
		verdict(b, "InProgress");
		text(b, "waiting for cert-manager to set the Ready condition");
		goto done;
	}
	if (eq(c->ready.status, "True")) {
		verdict(b, "Current");
		cond_msg(b, &c->ready, "certificate is up to date and has not expired");
		goto done;
	}
	if (eq(c->ready.status, "False")) {
		/* A new Certificate: Ready=False DoesNotExist can be written before
		 * the trigger controller sets Issuing=True. Only that reason with
		 * no Issuing condition at all waits; any other Ready=False without
		 * an issuance under way is a failure. */
		if (!c->has_issuing && eq(c->ready.reason, "DoesNotExist")) {
			verdict(b, "InProgress");
			text(b, "waiting for the first issuance: ");
			cond_msg(b, &c->ready, "the Secret does not exist yet");
			goto done;
		}
		verdict(b, "Failed");
		cond_msg(b, &c->ready, "Ready condition is False");
		if (c->has_issuing && eq(c->issuing.status, "False") && c->issuing.message.set && c->issuing.message.n) {
			text(b, "; last issuance: ");
			str(b, c->issuing.message);
		}
		goto done;
	}
	verdict(b, "InProgress");
	text(b, "Ready condition is ");
	if (c->ready.status.set && c->ready.status.n) str(b, c->ready.status);
	else text(b, "not set");
	text(b, ": ");
	cond_msg(b, &c->ready, "no message");
done:
	raw(b, "\"}");
}

/* ---- export: health ---------------------------------------------------- */

static uint64_t bad_input(scan_t *s) {
	buf_t m = {0};
	raw(&m, "malformed input JSON at byte ");
	num(&m, (int64_t)(s->at - s->start));
	raw(&m, ": ");
	raw(&m, s->err);
	if (!m.oom) weir_set_error(m.b, m.n);
	else weir_set_error(s->err, (uint32_t)strlen(s->err));
	free(m.b);
	return ERR_BAD_INPUT;
}

/* weir_health owns the input buffer (section 2, call sequence): it is
 * read in place and freed before returning. The result is
 * (out_ptr << 32) | out_len, or an error code with out_ptr 0. */
__attribute__((export_name("weir_health")))
uint64_t weir_health(char *in, uint32_t len) {
	scan_t s = {.start = in, .p = in, .end = in + len};
	cert_t c = {0};
	buf_t out = {0};
	uint64_t ret;
	if (scan_input(&s, &c) < 0) {
		ret = bad_input(&s);
	} else if (!c.has_object) {
		static const char msg[] = "input has no \"object\" (want {\"object\": {...}, \"config\": ...})";
		weir_set_error(msg, sizeof msg - 1);
		ret = ERR_BAD_INPUT;
	} else {
		health(&out, &c);
		if (out.oom) {
			static const char msg[] = "cannot allocate the output";
			weir_set_error(msg, sizeof msg - 1);
			free(out.b);
			ret = ERR_BAD_OUTPUT;
		} else {
			ret = (uint64_t)(uintptr_t)out.b << 32 | out.n;
		}
	}
	free(in); /* spans into it are dead from here on */
	return ret;
}
