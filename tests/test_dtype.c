/* SPDX-License-Identifier: MIT */
/* test_dtype.c -- unit tests for core/dtype: scalar sizes, aliases, whitespace, round trips, every class
 * of refusal (each must come with a message), overflow, and dtype_format's buffer handling.
 *
 * Refusals are checked for the errno and for a non-empty message, and where the wording matters to the
 * user (the offset, the offending token) for a fragment of it; the rest of the wording is free to change. */
#include "core/text/dtype.h"
#include "tests/check.h"

#include <errno.h>
#include <string.h>

static void check_ok(const char *s, const char *canon, uint32_t elem, uint32_t ndims, uint64_t count,
		     uint64_t nbytes, int line)
{
	struct dtype t;
	char err[256], buf[DTYPE_STR_MAX];
	int rc = dtype_parse(s, &t, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "line %d: parse '%s' gave %d: %s\n", line, s, rc, err);
		check_failures++;
		return;
	}
	CHECK(err[0] == '\0');
	CHECK(t.elem_size == elem);
	CHECK(t.ndims == ndims);
	CHECK(t.count == count);
	CHECK(t.nbytes == nbytes);
	CHECK_RC(dtype_format(&t, buf, sizeof(buf)), 0);
	if (strcmp(buf, canon) != 0) {
		fprintf(stderr, "line %d: '%s' formats as '%s', want '%s'\n", line, s, buf, canon);
		check_failures++;
	}
}
#define OK(s, canon, elem, ndims, count, nbytes) check_ok(s, canon, elem, ndims, count, nbytes, __LINE__)

/* Refused with want, a non-empty message, and (when frag is not NULL) frag somewhere in it; *out untouched. */
static void check_bad(const char *s, int want, const char *frag, int line)
{
	struct dtype t, before;
	char err[512];
	int rc;

	memset(&t, 0xa5, sizeof(t));
	before = t;
	rc = dtype_parse(s, &t, err, sizeof(err));
	if (rc != want || err[0] == '\0' || (frag && !strstr(err, frag)) || memcmp(&t, &before, sizeof(t))) {
		fprintf(stderr, "line %d: parse '%.60s' gave %d '%s', want %d with '%s'\n", line, s, rc, err,
			want, frag ? frag : "");
		check_failures++;
	}
	/* err == NULL must give the same answer without touching anything. */
	CHECK_RC(dtype_parse(s, &t, NULL, 0), want);
	CHECK_RC(dtype_parse(s, &t, NULL, 100), want);
}
#define BAD(s, frag) check_bad(s, -EINVAL, frag, __LINE__)
#define OVER(s, frag) check_bad(s, -EOVERFLOW, frag, __LINE__)

static void test_scalars(void)
{
	static const struct {
		const char *name;
		uint32_t size;
	} all[] = {
		{ "bool", 1 },    { "int8", 1 },     { "uint8", 1 },    { "int16", 2 },      { "uint16", 2 },
		{ "int32", 4 },   { "uint32", 4 },   { "int64", 8 },    { "uint64", 8 },     { "float16", 2 },
		{ "float32", 4 }, { "float64", 8 },  { "complex64", 8 }, { "complex128", 16 },
	};

	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		struct dtype t;

		CHECK_RC(dtype_parse(all[k].name, &t, NULL, 0), 0);
		CHECK(strcmp(t.scalar, all[k].name) == 0);
		CHECK(t.elem_size == all[k].size);
		CHECK(t.ndims == 0);
		CHECK(t.count == 1);
		CHECK(t.nbytes == all[k].size);
		OK(all[k].name, all[k].name, all[k].size, 0, 1, all[k].size);
	}
}

static void test_aliases(void)
{
	OK("int", "int32", 4, 0, 1, 4);
	OK("float", "float64", 8, 0, 1, 8);
	OK("double", "float64", 8, 0, 1, 8);
	OK("real", "float64", 8, 0, 1, 8);
	OK("complex", "complex128", 16, 0, 1, 16);
	OK("byte", "uint8", 1, 0, 1, 1);
	OK("10 * float", "10 * float64", 8, 1, 10, 80);
	OK("2 * 3 * complex", "2 * 3 * complex128", 16, 2, 6, 96);
}

static void test_shapes(void)
{
	struct dtype t;

	OK("40 * 20 * float64", "40 * 20 * float64", 8, 2, 800, 6400);
	OK("3 * 1024 * uint8", "3 * 1024 * uint8", 1, 2, 3072, 3072);
	CHECK_RC(dtype_parse("3 * 1024 * uint8", &t, NULL, 0), 0);
	CHECK(t.dims[0] == 3 && t.dims[1] == 1024);
	OK("1 * int8", "1 * int8", 1, 1, 1, 1);
	OK("9999999999999999999 * bool", "9999999999999999999 * bool", 1, 1, 9999999999999999999ull,
	   9999999999999999999ull);
	/* Largest that still fits: UINT64_MAX elements of one byte, and a 20-digit dimension. */
	OK("18446744073709551615 * uint8", "18446744073709551615 * uint8", 1, 1, UINT64_MAX, UINT64_MAX);
	OK("4294967296 * 4294967295 * int8", "4294967296 * 4294967295 * int8", 1, 2, 18446744069414584320ull,
	   18446744069414584320ull);
	OK("2305843009213693951 * float64", "2305843009213693951 * float64", 8, 1, 2305843009213693951ull,
	   18446744073709551608ull);
}

static void test_whitespace(void)
{
	OK("40*20*float64", "40 * 20 * float64", 8, 2, 800, 6400);
	OK("  40 *20*  float64 ", "40 * 20 * float64", 8, 2, 800, 6400);
	OK("\t40\t*\t20 *float64\t", "40 * 20 * float64", 8, 2, 800, 6400);
	OK(" int32", "int32", 4, 0, 1, 4);
	OK("int32   ", "int32", 4, 0, 1, 4);
}

static void test_round_trip(void)
{
	static const char *const in[] = {
		"bool", "byte", "7 * int16", "40*20*float64", "  1 * 2 * 3 * 4 * complex64 ", "65536 * real",
		"1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*uint64",
	};

	for (size_t k = 0; k < sizeof(in) / sizeof(in[0]); k++) {
		struct dtype a, b;
		char s1[DTYPE_STR_MAX], s2[DTYPE_STR_MAX];

		CHECK_RC(dtype_parse(in[k], &a, NULL, 0), 0);
		CHECK_RC(dtype_format(&a, s1, sizeof(s1)), 0);
		CHECK_RC(dtype_parse(s1, &b, NULL, 0), 0);
		CHECK_RC(dtype_format(&b, s2, sizeof(s2)), 0);
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		CHECK(strcmp(s1, s2) == 0);
	}
}

static void test_max_dims(void)
{
	char s[256];
	size_t off = 0;
	struct dtype t;

	for (int k = 0; k < DTYPE_MAX_DIMS; k++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "2*");
	snprintf(s + off, sizeof(s) - off, "int8");
	CHECK_RC(dtype_parse(s, &t, NULL, 0), 0);
	CHECK(t.ndims == DTYPE_MAX_DIMS);
	CHECK(t.count == (uint64_t)1 << 32);

	/* One more dimension is refused, even though its product would still fit. */
	snprintf(s + off, sizeof(s) - off, "1*int8");
	BAD(s, "offset 64");
}

static void test_refusals(void)
{
	char big[4100];

	BAD("", "empty");
	BAD("   ", "empty");
	BAD("\t \t", "empty");
	BAD("3 *", "trailing '*' at offset 2");
	BAD("3 * 4 *  ", "trailing '*' at offset 6");
	BAD("* int8", "leading '*' at offset 0");
	BAD("*", "leading '*'");
	BAD("3 ** int8", "offset 3");
	BAD("3 * * int8", "offset 4");
	BAD("float64 * 3", "dimensions must come before");
	BAD("int8 *", "offset 5");
	BAD("int8 int8", "'i' at offset 5");
	BAD("int8;", "';' at offset 4");
	BAD("3 int8", "expected '*'");
	BAD("3", "end of string");
	BAD("3 4 * int8", "'4' at offset 2");
	BAD("0 * int8", "zero dimension at offset 0");
	BAD("3 * 0 * int8", "zero dimension at offset 4");
	BAD("-3 * int8", "sign '-' at offset 0");
	BAD("+3 * int8", "sign '+' at offset 0");
	BAD("3 * -2 * int8", "offset 4");
	BAD("0x10 * int8", "'0x10'");
	BAD("007 * int8", "leading zero");
	BAD("3float64", "'3float64'");
	BAD("1e3 * int8", "'1e3'");
	BAD("3.5 * int8", "'.' at offset 1");
	BAD("flaot64", "unknown scalar type 'flaot64' at offset 0; known: bool, int8");
	BAD("3 * flaot64", "at offset 4");
	BAD("Float64", "did you mean 'float64'");
	BAD("INT32", "did you mean 'int32'");
	BAD("float128", "unknown scalar type");
	BAD("int 8", "'8' at offset 4");
	BAD("\xc3\xa9", "byte 0xc3 at offset 0");
	BAD("int8\n", "control character 0x0a at offset 4");
	BAD("3 *\r int8", "control character 0x0d");
	BAD("in\x01t8", "control character 0x01 at offset 2");
	BAD("int8\x7f", "control character 0x7f");

	/* Length: exactly 4096 bytes is still fine, one more is not. */
	memset(big, ' ', sizeof(big));
	memcpy(big + 4096 - 4, "int8", 4);
	big[4096] = '\0';
	OK(big, "int8", 1, 0, 1, 1);
	memset(big, ' ', sizeof(big));
	memcpy(big + 4097 - 4, "int8", 4);
	big[4097] = '\0';
	BAD(big, "longer than 4096");

	/* A very long unknown name is quoted back cut short, not in full. */
	memset(big, 'x', 4000);
	big[4000] = '\0';
	BAD(big, "...");
}

static void test_overflow(void)
{
	OVER("18446744073709551615 * 2 * uint8", "offset 23");
	OVER("4294967296 * 4294967296 * uint8", "offset 13");
	OVER("18446744073709551616 * uint8", "does not fit");
	OVER("99999999999999999999999999999999 * uint8", "offset 0");
	/* The count fits; the bytes do not. */
	OVER("18446744073709551615 * uint16", "bytes each");
	OVER("2305843009213693952 * float64", "more than 2^64-1 bytes");
	/* A syntax error wins over an overflow before it. */
	BAD("18446744073709551615 * 2 * flaot64", "unknown scalar type");
	BAD("18446744073709551616 * 0 * int8", "zero dimension");
}

static void test_args(void)
{
	struct dtype t;
	char err[64];

	CHECK_RC(dtype_parse(NULL, &t, err, sizeof(err)), -EINVAL);
	CHECK(err[0] != '\0');
	CHECK_RC(dtype_parse("int8", NULL, err, sizeof(err)), -EINVAL);
	CHECK(err[0] != '\0');

	/* err is cut to errlen and stays NUL-terminated; errlen 0 leaves it alone. */
	memset(err, 'z', sizeof(err));
	CHECK_RC(dtype_parse("flaot64", &t, err, 8), -EINVAL);
	CHECK(strlen(err) == 7);
	CHECK(err[8] == 'z');
	memset(err, 'z', sizeof(err));
	CHECK_RC(dtype_parse("flaot64", &t, err, 0), -EINVAL);
	CHECK(err[0] == 'z');

	/* Success clears a stale message. */
	strcpy(err, "stale");
	CHECK_RC(dtype_parse("int8", &t, err, sizeof(err)), 0);
	CHECK(err[0] == '\0');
}

static void test_format(void)
{
	struct dtype t;
	char buf[DTYPE_STR_MAX];
	const char *want = "40 * 20 * float64";
	size_t need = strlen(want) + 1;

	CHECK_RC(dtype_parse(want, &t, NULL, 0), 0);
	CHECK_RC(dtype_format(&t, buf, need), 0);
	CHECK(strcmp(buf, want) == 0);

	/* Every size short of the whole string, including cuts inside a dimension and inside " * ". */
	for (size_t len = 1; len < need; len++) {
		memset(buf, 'z', sizeof(buf));
		CHECK_RC(dtype_format(&t, buf, len), -ERANGE);
		CHECK(buf[0] == '\0');
		CHECK(buf[len] == 'z');
	}
	CHECK_RC(dtype_format(&t, buf, 0), -ERANGE);

	CHECK_RC(dtype_parse("uint8", &t, NULL, 0), 0);
	CHECK_RC(dtype_format(&t, buf, 5), -ERANGE);
	CHECK_RC(dtype_format(&t, buf, 6), 0);
	CHECK(strcmp(buf, "uint8") == 0);

	CHECK_RC(dtype_format(NULL, buf, sizeof(buf)), -EINVAL);
	CHECK_RC(dtype_format(&t, NULL, sizeof(buf)), -EINVAL);
	t.ndims = DTYPE_MAX_DIMS + 1;
	CHECK_RC(dtype_format(&t, buf, sizeof(buf)), -EINVAL);

	/* A hand-built struct with the largest everything overruns DTYPE_STR_MAX and is refused cleanly. */
	memset(&t, 0, sizeof(t));
	strcpy(t.scalar, "complex128");
	t.ndims = DTYPE_MAX_DIMS;
	for (int k = 0; k < DTYPE_MAX_DIMS; k++)
		t.dims[k] = UINT64_MAX;
	CHECK_RC(dtype_format(&t, buf, sizeof(buf)), -ERANGE);
	CHECK(buf[0] == '\0');
}

static struct dtype parsed(const char *s)
{
	struct dtype t;

	memset(&t, 0, sizeof(t));
	CHECK_RC(dtype_parse(s, &t, NULL, 0), 0);
	return t;
}

static void test_narrows(void)
{
	struct dtype base = parsed("2 * float64"), s = parsed("float64");

	CHECK(dtype_narrows(&base, &base));
	struct dtype a = parsed("3 * 2 * float64"), b = parsed("2 * 3 * float64"), c = parsed("2 * float32"),
		     d = parsed("float64"), e = parsed("5 * 3 * 2 * double");
	CHECK(dtype_narrows(&a, &base));
	CHECK(!dtype_narrows(&b, &base));
	CHECK(!dtype_narrows(&c, &base));
	CHECK(!dtype_narrows(&d, &base)); /* fewer dimensions than the base */
	CHECK(dtype_narrows(&e, &base));  /* aliases are one scalar */
	CHECK(dtype_narrows(&a, &s));     /* a scalar base: any shape of it */
}

static void test_fit(void)
{
	struct dtype base = parsed("2 * float64"), out;
	char buf[DTYPE_STR_MAX];

	CHECK_RC(dtype_fit(&base, 16, &out), 0);
	CHECK_RC(dtype_format(&out, buf, sizeof(buf)), 0);
	CHECK(strcmp(buf, "2 * float64") == 0);
	CHECK_RC(dtype_fit(&base, 48, &out), 0);
	CHECK_RC(dtype_format(&out, buf, sizeof(buf)), 0);
	CHECK(strcmp(buf, "3 * 2 * float64") == 0);
	CHECK(out.count == 6 && out.nbytes == 48 && out.ndims == 2);
	CHECK(dtype_narrows(&out, &base));
	CHECK_RC(dtype_fit(&base, 0, &out), -EINVAL);
	CHECK_RC(dtype_fit(&base, 24, &out), -EINVAL);
	CHECK_RC(dtype_fit(&base, 8, &out), -EINVAL);
	struct dtype full = parsed("uint8");
	full.ndims = DTYPE_MAX_DIMS;
	CHECK_RC(dtype_fit(&full, 1, &out), -EOVERFLOW);
}

int main(void)
{
	test_narrows();
	test_fit();
	test_scalars();
	test_aliases();
	test_shapes();
	test_whitespace();
	test_round_trip();
	test_max_dims();
	test_refusals();
	test_overflow();
	test_args();
	test_format();
	return CHECK_DONE();
}
