// Tier 2: the runtime's snprintf formats (%s %c %d %u %x %X %lx %llx %p %%, width, '-', '0' and '#', %.Ns).
// TEST-EXIT: 0
// TEST-EXPECT: PASS: printf
#include "test.h"

#define CHECK(expect, ...)                                                   \
	do {                                                                 \
		char b_[64];                                                 \
		int n_ = snprintf(b_, sizeof(b_), __VA_ARGS__);              \
		TEST_STREQ(b_, expect);                                      \
		TEST_EQ(n_, strlen(expect));                                 \
	} while (0)

int main(void)
{
	char small[5];
	const char *volatile null = NULL;	/* hidden from -Wformat-overflow */

	CHECK("hello world", "%s %s", "hello", "world");
	CHECK("[  abc][abc  ]", "[%5s][%-5s]", "abc", "abc");
	CHECK("x=-42 y=42 z=0", "x=%d y=%i z=%d", -42, 42, 0);
	CHECK("4294967295", "%u", 0xffffffffu);
	CHECK("-2147483648", "%d", (int)0x80000000);
	CHECK("ff FF 00ff    ff", "%x %X %04x %5x", 255, 255, 255, 255);
	CHECK("-0042|-42  |  -42", "%05d|%-5d|%5d", -42, -42, -42);
	CHECK("ffffffffffffffff", "%lx", ~0UL);
	CHECK("123456789abcdef0", "%llx", 0x123456789abcdef0ULL);
	CHECK("18446744073709551615", "%llu", ~0ULL);
	CHECK("-9223372036854775808", "%lld", (long long)(1ULL << 63));
	CHECK("0x200000", "%p", (void *)0x200000);
	CHECK("a%b", "%c%%%c", 'a', 'b');
	CHECK("(null)", "%s", null);
	CHECK("00:1f.7", "%02x:%02x.%x", 0, 31, 7);
	CHECK("0x1f 0 0XAB|ok", "%#x %#x %#X|%s", 31, 0, 0xab, "ok");	/* '#' takes its argument */
	CHECK("DSDT|  FAC|ab", "%.4s|%5.3s|%.*s", "DSDTxxxx", "FACP", 2, "abc");
	/* Truncation: the return value is the full length, the buffer stays terminated. */
	TEST_EQ(snprintf(small, sizeof(small), "%s", "truncated"), 9);
	TEST_STREQ(small, "trun");
	/* And through the console: a long line crosses the 128-byte output chunks intact. */
	printf("printf: %s|%s|%s\n", "0123456789012345678901234567890123456789012345678901234567890123456789",
	       "0123456789012345678901234567890123456789012345678901234567890123456789", "end");
	test__pass("printf");
}
