// Tier 2: serial output and input. The first line is on stdin from the start (it may reach the uart
// before the guest is up: no byte may be lost); the second is fed only after the guest says it is
// ready, so it must arrive through the receive interrupt (IOAPIC pin of the uart node). Both come
// back in upper case.
// TEST-STDIN: hello
// TEST-STDIN-AFTER: serial: port
// TEST-STDIN-TRIGGER: serial: ready for line 2
// TEST-STDIN-LATE: The quick brown fox jumps over the lazy dog 0123456789 ~!@#$%^&*()_+
// TEST-EXIT: 0
// TEST-EXPECT: ECHO: HELLO
// TEST-EXPECT: ECHO: THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG 0123456789 ~!@#$%^&*()_+
// TEST-EXPECT: PASS: serial
// TEST-TIMEOUT: 30
#include "test.h"

static int read_line(char *buf, int max)
{
	int n = 0;

	for (;;) {
		int c = serial__getc(10000);

		TEST_ASSERT_MSG(c >= 0, "no input for 10 s after %d bytes (\"%.*s\"), %llu receive interrupts", n,
				n, buf, (unsigned long long)intr__count(VEC_COM1));
		if (c == '\r')
			continue;
		if (c == '\n')
			break;
		TEST_ASSERT_MSG(n < max - 1, "line longer than %d bytes", max - 1);
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return n;
}

static void echo_upper(const char *s)
{
	char up[128];
	int i;

	for (i = 0; s[i] && i < (int)sizeof(up) - 1; i++)
		up[i] = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i];
	up[i] = '\0';
	printf("ECHO: %s\n", up);
}

int main(void)
{
	char line[128];
	uint64_t irqs;

	printf("serial: port 0x%x irq %u, %u bytes were waiting at start-up\n", platform.com1_port,
	       platform.com1_irq, serial__rx_early());
	serial__rx_irq_enable();
	read_line(line, sizeof(line));
	echo_upper(line);
	TEST_STREQ(line, "hello");

	irqs = intr__count(VEC_COM1);
	printf("serial: ready for line 2\n");
	read_line(line, sizeof(line));
	echo_upper(line);
	TEST_STREQ(line, "The quick brown fox jumps over the lazy dog 0123456789 ~!@#$%^&*()_+");
	irqs = intr__count(VEC_COM1) - irqs;
	printf("serial: line 2 took %llu receive interrupts, %u bytes dropped\n", (unsigned long long)irqs,
	       serial__rx_overruns());
	TEST_ASSERT_MSG(irqs > 0, "line 2 arrived without a receive interrupt");
	TEST_EQ(serial__rx_overruns(), 0);
	test__pass("serial");
}
