/*
 * ifd-pinpad: a PC/SC IFD handler for pcscd that is a PIN-pad reader for
 * tests. The card in it is a software card speaking vsmartcard's vpcd wire
 * protocol (a two-byte big-endian length, then a payload; one-byte payloads
 * are power off 00, power on 01, reset 02, get ATR 04), so the software PIV
 * card of card/vcard connects to it as it does to vpcd. The "keypad" is a
 * file the test writes: a PIN typed on the reader.
 *
 * reader.conf:
 *   FRIENDLYNAME "sclogon PIN pad"
 *   DEVICENAME   /path/to/keypad:PORT
 *   LIBPATH      /path/to/ifd-pinpad.so
 *
 * The card connects to 127.0.0.1:PORT. The keypad file holds one line per
 * PIN entry: VERIFY takes one line; MODIFY takes the current PIN (when the
 * structure asks for it), the new PIN and its confirmation (when asked).
 * A line "cancel" is the cancel key (SW 6401); no file within the
 * structure's timeout is SW 6400; confirmations that differ are SW 6402; a
 * PIN outside wPINMaxExtraDigit is SW 6403 (the status words CCID readers
 * answer). The file is removed once read: the keys are typed once.
 *
 * What it implements of PC/SC part 10 (v2.02.09, §2.2 and §2.5):
 * CM_IOCTL_GET_FEATURE_REQUEST with FEATURE_VERIFY_PIN_DIRECT,
 * FEATURE_MODIFY_PIN_DIRECT and FEATURE_IFD_PIN_PROPERTIES; PIN blocks in
 * byte units, binary, BCD or ASCII, left or right justified, with an
 * optional PIN length field at a bit position. Nothing else: T=1 prologues
 * and messages on a display are ignored.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <ifdhandler.h>
#include <reader.h>

#define MAX_READERS 8
#define MAX_PIN 16
#define IO_TIMEOUT_MS 10000

/* Our control codes for the features (a reader picks its own; the client
 * learns them from GET_FEATURE_REQUEST). */
#define IOCTL_VERIFY_PIN_DIRECT SCARD_CTL_CODE(3500 + FEATURE_VERIFY_PIN_DIRECT)
#define IOCTL_MODIFY_PIN_DIRECT SCARD_CTL_CODE(3500 + FEATURE_MODIFY_PIN_DIRECT)
#define IOCTL_IFD_PIN_PROPERTIES SCARD_CTL_CODE(3500 + FEATURE_IFD_PIN_PROPERTIES)

struct reader {
	int used;
	DWORD lun;
	int listen_fd;
	int conn_fd;
	char keypad[4096];
	unsigned char atr[MAX_ATR_SIZE];
	DWORD atr_len;
	pthread_mutex_t mu;
};

static struct reader readers[MAX_READERS];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

/* logmsg writes to pcscd's standard error, which the test harness keeps:
 * what the reader did, never a PIN. */
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ifd-pinpad: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	va_end(ap);
}

static struct reader *find(DWORD lun)
{
	for (int i = 0; i < MAX_READERS; i++)
		if (readers[i].used && readers[i].lun == lun)
			return &readers[i];
	return NULL;
}

/* ---- the card's wire (vpcd protocol) ---- */

static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;
	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

static int read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (wait_fd(fd, POLLIN, IO_TIMEOUT_MS) < 0)
			return -1;
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int send_msg(struct reader *r, const unsigned char *data, size_t n)
{
	unsigned char hdr[2] = {(unsigned char)(n >> 8), (unsigned char)n};
	if (r->conn_fd < 0 || n == 0 || n > 0xFFFF)
		return -1;
	if (send(r->conn_fd, hdr, 2, MSG_NOSIGNAL | MSG_MORE) != 2)
		return -1;
	size_t sent = 0;
	while (sent < n) {
		ssize_t w = send(r->conn_fd, data + sent, n - sent, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		sent += (size_t)w;
	}
	return 0;
}

/* recv_msg reads one reply into buf (at most cap bytes) and returns its
 * length, or -1. */
static long recv_msg(struct reader *r, unsigned char *buf, size_t cap)
{
	unsigned char hdr[2];
	if (r->conn_fd < 0 || read_full(r->conn_fd, hdr, 2) < 0)
		return -1;
	size_t n = ((size_t)hdr[0] << 8) | hdr[1];
	if (n > cap)
		return -1;
	if (read_full(r->conn_fd, buf, n) < 0)
		return -1;
	return (long)n;
}

static void drop_card(struct reader *r)
{
	if (r->conn_fd >= 0) {
		close(r->conn_fd);
		r->conn_fd = -1;
	}
	r->atr_len = 0;
}

/* exchange sends one APDU to the card and reads its answer. */
static long exchange(struct reader *r, const unsigned char *cmd, size_t n, unsigned char *resp, size_t cap)
{
	if (send_msg(r, cmd, n) < 0) {
		drop_card(r);
		return -1;
	}
	long got = recv_msg(r, resp, cap);
	if (got < 2) {
		drop_card(r);
		return -1;
	}
	return got;
}

/* ---- the keypad ---- */

/* read_keypad waits up to timeout_s seconds for the keypad file, reads its
 * lines into pins and removes it. It returns the number of lines, 0 on a
 * timeout, -1 on an error. */
static int read_keypad(struct reader *r, int timeout_s, char pins[3][MAX_PIN + 1])
{
	struct timespec step = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
	long waited_ms = 0;
	int fd;
	while ((fd = open(r->keypad, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT || waited_ms >= (long)timeout_s * 1000)
			return errno == ENOENT ? 0 : -1;
		nanosleep(&step, NULL);
		waited_ms += 20;
	}
	char buf[3 * (MAX_PIN + 2) + 1];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	unlink(r->keypad);
	if (n < 0)
		return -1;
	buf[n] = 0;
	int lines = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line && lines < 3; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) > MAX_PIN)
			return -1;
		strcpy(pins[lines++], line);
	}
	memset(buf, 0, sizeof buf);
	return lines;
}

/* ---- PIN blocks (PC/SC part 10 §2.5.2, the CCID bmFormatString fields) ---- */

struct pin_format {
	int pos;          /* byte offset of the PIN block in the APDU's data */
	int right;        /* right justified */
	int type;         /* 0 binary, 1 BCD, 2 ASCII */
	int block;        /* PIN block size in bytes */
	int len_bits;     /* size of the PIN length field in bits (0: none) */
	int len_pos_bits; /* position of the PIN length field, in bits */
	int min, max;     /* PIN size in digits */
};

static int parse_format(struct pin_format *f, uint8_t fmt, uint8_t block, uint8_t lenfmt, uint16_t extra)
{
	if (!(fmt & 0x80))
		return -1; /* bit units are not supported */
	f->pos = (fmt >> 3) & 0x0F;
	f->right = (fmt >> 2) & 1;
	f->type = fmt & 0x03;
	f->block = block & 0x0F;
	f->len_bits = block >> 4;
	f->len_pos_bits = (lenfmt & 0x0F) * ((lenfmt & 0x10) ? 8 : 1);
	f->min = extra >> 8;
	f->max = extra & 0xFF;
	return f->type == 3 ? -1 : 0;
}

static void put_bits(unsigned char *data, int bitpos, int nbits, unsigned value)
{
	for (int i = 0; i < nbits; i++) {
		int bit = bitpos + i;
		unsigned v = (value >> (nbits - 1 - i)) & 1;
		unsigned char mask = (unsigned char)(0x80 >> (bit % 8));
		data[bit / 8] = (unsigned char)(v ? data[bit / 8] | mask : data[bit / 8] & ~mask);
	}
}

/* insert_pin writes pin into data (the APDU's data field, n bytes) at
 * extra bytes past the format's position. It returns 0, or the status word
 * the reader answers instead. */
static int insert_pin(const struct pin_format *f, int extra, const char *pin, unsigned char *data, size_t n)
{
	size_t digits = strlen(pin);
	for (size_t i = 0; i < digits; i++)
		if (f->type != 2 && (pin[i] < '0' || pin[i] > '9'))
			return 0x6403;
	if ((f->min && digits < (size_t)f->min) || (f->max && digits > (size_t)f->max))
		return 0x6403;
	size_t bytes = f->type == 1 ? (digits + 1) / 2 : digits;
	size_t at = (size_t)f->pos + (size_t)extra;
	if (bytes > (size_t)f->block || at + (size_t)f->block > n)
		return 0x6403;
	unsigned char *blk = data + at;
	size_t start = f->right ? (size_t)f->block - bytes : 0;
	for (size_t i = 0; i < digits; i++) {
		unsigned d = f->type == 2 ? (unsigned char)pin[i] : (unsigned)(pin[i] - '0');
		if (f->type == 1) {
			int bit = (int)(start * 8 + i * 4);
			put_bits(blk, bit, 4, d);
		} else {
			blk[start + i] = (unsigned char)d;
		}
	}
	if (f->len_bits)
		put_bits(data, f->len_pos_bits, f->len_bits, (unsigned)digits);
	return 0;
}

static DWORD status_word(unsigned char *rx, DWORD cap, int sw)
{
	if (cap < 2)
		return 0;
	rx[0] = (unsigned char)(sw >> 8);
	rx[1] = (unsigned char)sw;
	return 2;
}

/* send_pin_apdu sends the APDU with the PIN(s) inserted and returns the
 * card's answer in rx. */
static RESPONSECODE send_pin_apdu(struct reader *r, unsigned char *apdu, size_t n, PUCHAR rx, DWORD cap, LPDWORD ret)
{
	unsigned char resp[MAX_BUFFER_SIZE_EXTENDED];
	long got = exchange(r, apdu, n, resp, sizeof resp);
	memset(apdu, 0, n);
	if (got < 0)
		return IFD_COMMUNICATION_ERROR;
	if ((DWORD)got > cap)
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	memcpy(rx, resp, (size_t)got);
	*ret = (DWORD)got;
	logmsg("the card answered %04X", ((resp[got - 2] << 8) | resp[got - 1]));
	return IFD_SUCCESS;
}

static int timeout_of(uint8_t t) { return t ? t : 30; }

static RESPONSECODE verify_pin(struct reader *r, PUCHAR tx, DWORD txlen, PUCHAR rx, DWORD cap, LPDWORD ret)
{
	PIN_VERIFY_STRUCTURE s;
	size_t head = offsetof(PIN_VERIFY_STRUCTURE, abData);
	if (txlen < head)
		return IFD_COMMUNICATION_ERROR;
	memcpy(&s, tx, head);
	if (s.ulDataLength != txlen - head || s.ulDataLength < 5 || s.ulDataLength > 261)
		return IFD_COMMUNICATION_ERROR;
	struct pin_format f;
	if (parse_format(&f, s.bmFormatString, s.bmPINBlockString, s.bmPINLengthFormat, s.wPINMaxExtraDigit) < 0)
		return IFD_NOT_SUPPORTED;
	char pins[3][MAX_PIN + 1];
	logmsg("VERIFY PIN DIRECT: waiting for the PIN on the keypad %s (%d s)", r->keypad, timeout_of(s.bTimerOut));
	int lines = read_keypad(r, timeout_of(s.bTimerOut), pins);
	if (lines <= 0) {
		*ret = status_word(rx, cap, lines == 0 ? 0x6400 : 0x6F00);
		return IFD_SUCCESS;
	}
	if (strcmp(pins[0], "cancel") == 0) {
		*ret = status_word(rx, cap, 0x6401);
		return IFD_SUCCESS;
	}
	unsigned char apdu[261];
	memcpy(apdu, tx + head, s.ulDataLength);
	int sw = insert_pin(&f, 0, pins[0], apdu + 5, s.ulDataLength - 5);
	memset(pins, 0, sizeof pins);
	if (sw) {
		memset(apdu, 0, sizeof apdu);
		*ret = status_word(rx, cap, sw);
		return IFD_SUCCESS;
	}
	return send_pin_apdu(r, apdu, s.ulDataLength, rx, cap, ret);
}

static RESPONSECODE modify_pin(struct reader *r, PUCHAR tx, DWORD txlen, PUCHAR rx, DWORD cap, LPDWORD ret)
{
	PIN_MODIFY_STRUCTURE s;
	size_t head = offsetof(PIN_MODIFY_STRUCTURE, abData);
	if (txlen < head)
		return IFD_COMMUNICATION_ERROR;
	memcpy(&s, tx, head);
	if (s.ulDataLength != txlen - head || s.ulDataLength < 5 || s.ulDataLength > 261)
		return IFD_COMMUNICATION_ERROR;
	struct pin_format f;
	if (parse_format(&f, s.bmFormatString, s.bmPINBlockString, s.bmPINLengthFormat, s.wPINMaxExtraDigit) < 0)
		return IFD_NOT_SUPPORTED;
	int want_old = (s.bConfirmPIN & 0x02) != 0, confirm = (s.bConfirmPIN & 0x01) != 0;
	int need = want_old + 1 + confirm;
	char pins[3][MAX_PIN + 1];
	logmsg("MODIFY PIN DIRECT: waiting for the PINs on the keypad %s (%d s)", r->keypad, timeout_of(s.bTimerOut));
	int lines = read_keypad(r, timeout_of(s.bTimerOut), pins);
	int sw = 0;
	if (lines <= 0)
		sw = lines == 0 ? 0x6400 : 0x6F00;
	else if (strcmp(pins[0], "cancel") == 0)
		sw = 0x6401;
	else if (lines < need)
		sw = 0x6400; /* the person stopped typing */
	else if (confirm && strcmp(pins[want_old], pins[want_old + 1]) != 0)
		sw = 0x6402;
	unsigned char apdu[261];
	memcpy(apdu, tx + head, s.ulDataLength);
	if (!sw && want_old)
		sw = insert_pin(&f, s.bInsertionOffsetOld, pins[0], apdu + 5, s.ulDataLength - 5);
	if (!sw)
		sw = insert_pin(&f, s.bInsertionOffsetNew, pins[want_old], apdu + 5, s.ulDataLength - 5);
	memset(pins, 0, sizeof pins);
	if (sw) {
		memset(apdu, 0, sizeof apdu);
		*ret = status_word(rx, cap, sw);
		return IFD_SUCCESS;
	}
	return send_pin_apdu(r, apdu, s.ulDataLength, rx, cap, ret);
}

static DWORD put_feature(PUCHAR rx, DWORD at, uint8_t tag, uint32_t code)
{
	rx[at] = tag;
	rx[at + 1] = 4;
	uint32_t be = htonl(code);
	memcpy(rx + at + 2, &be, 4);
	return at + 6;
}

RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer, DWORD TxLength, PUCHAR RxBuffer, DWORD RxLength, LPDWORD pdwBytesReturned)
{
	struct reader *r = find(Lun);
	if (!r || !pdwBytesReturned)
		return IFD_COMMUNICATION_ERROR;
	*pdwBytesReturned = 0;
	RESPONSECODE rc = IFD_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&r->mu);
	switch (dwControlCode) {
	case CM_IOCTL_GET_FEATURE_REQUEST:
		if (RxLength < 18) {
			rc = IFD_ERROR_INSUFFICIENT_BUFFER;
			break;
		}
		*pdwBytesReturned = put_feature(RxBuffer, put_feature(RxBuffer, put_feature(RxBuffer, 0,
			FEATURE_VERIFY_PIN_DIRECT, IOCTL_VERIFY_PIN_DIRECT),
			FEATURE_MODIFY_PIN_DIRECT, IOCTL_MODIFY_PIN_DIRECT),
			FEATURE_IFD_PIN_PROPERTIES, IOCTL_IFD_PIN_PROPERTIES);
		rc = IFD_SUCCESS;
		break;
	case IOCTL_IFD_PIN_PROPERTIES: {
		/* No display; entry ends with the validation key. */
		PIN_PROPERTIES_STRUCTURE p = {.wLcdLayout = 0, .bEntryValidationCondition = 0x02, .bTimeOut2 = 0};
		if (RxLength < sizeof p) {
			rc = IFD_ERROR_INSUFFICIENT_BUFFER;
			break;
		}
		memcpy(RxBuffer, &p, sizeof p);
		*pdwBytesReturned = sizeof p;
		rc = IFD_SUCCESS;
		break;
	}
	case IOCTL_VERIFY_PIN_DIRECT:
		rc = r->conn_fd < 0 ? IFD_ICC_NOT_PRESENT : verify_pin(r, TxBuffer, TxLength, RxBuffer, RxLength, pdwBytesReturned);
		break;
	case IOCTL_MODIFY_PIN_DIRECT:
		rc = r->conn_fd < 0 ? IFD_ICC_NOT_PRESENT : modify_pin(r, TxBuffer, TxLength, RxBuffer, RxLength, pdwBytesReturned);
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* ---- the rest of the IFD handler API (pcsc-lite ifdhandler.h, v3) ---- */

RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	const char *colon = DeviceName ? strrchr(DeviceName, ':') : NULL;
	if (!colon || colon == DeviceName || (size_t)(colon - DeviceName) >= sizeof readers[0].keypad) {
		logmsg("DEVICENAME %s: want KEYPAD_PATH:PORT", DeviceName ? DeviceName : "(none)");
		return IFD_COMMUNICATION_ERROR;
	}
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 0);
	if (*end || port == 0 || port > 0xFFFF)
		return IFD_COMMUNICATION_ERROR;

	pthread_mutex_lock(&table_mu);
	struct reader *r = NULL;
	for (int i = 0; i < MAX_READERS && !r; i++)
		if (!readers[i].used)
			r = &readers[i];
	if (!r) {
		pthread_mutex_unlock(&table_mu);
		return IFD_COMMUNICATION_ERROR;
	}
	memset(r, 0, sizeof *r);
	memcpy(r->keypad, DeviceName, (size_t)(colon - DeviceName));
	r->conn_fd = -1;
	r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->listen_fd, 4) < 0) {
		logmsg("cannot listen on 127.0.0.1:%lu: %s", port, strerror(errno));
		if (r->listen_fd >= 0)
			close(r->listen_fd);
		pthread_mutex_unlock(&table_mu);
		return IFD_COMMUNICATION_ERROR;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->lun = Lun;
	r->used = 1;
	pthread_mutex_unlock(&table_mu);
	logmsg("keypad %s, card port %lu", r->keypad, port);
	return IFD_SUCCESS;
}

RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
	(void)Lun;
	(void)Channel;
	logmsg("a DEVICENAME KEYPAD_PATH:PORT is required");
	return IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
	pthread_mutex_lock(&table_mu);
	struct reader *r = find(Lun);
	if (r) {
		pthread_mutex_lock(&r->mu);
		drop_card(r);
		close(r->listen_fd);
		r->used = 0;
		pthread_mutex_unlock(&r->mu);
		pthread_mutex_destroy(&r->mu);
	}
	pthread_mutex_unlock(&table_mu);
	return IFD_SUCCESS;
}

RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	struct reader *r = find(Lun);
	if (!r || !Length || !Value)
		return IFD_COMMUNICATION_ERROR;
	switch (Tag) {
	case TAG_IFD_ATR:
	case SCARD_ATTR_ATR_STRING:
		pthread_mutex_lock(&r->mu);
		if (*Length < r->atr_len) {
			pthread_mutex_unlock(&r->mu);
			return IFD_ERROR_INSUFFICIENT_BUFFER;
		}
		memcpy(Value, r->atr, r->atr_len);
		*Length = r->atr_len;
		pthread_mutex_unlock(&r->mu);
		return IFD_SUCCESS;
	case TAG_IFD_SIMULTANEOUS_ACCESS:
		*Length = 1;
		Value[0] = MAX_READERS;
		return IFD_SUCCESS;
	case TAG_IFD_SLOTS_NUMBER:
		*Length = 1;
		Value[0] = 1;
		return IFD_SUCCESS;
	case TAG_IFD_THREAD_SAFE:
	case TAG_IFD_SLOT_THREAD_SAFE:
		*Length = 1;
		Value[0] = 0;
		return IFD_SUCCESS;
	}
	return IFD_ERROR_TAG;
}

RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
	(void)Lun;
	(void)Tag;
	(void)Length;
	(void)Value;
	return IFD_NOT_SUPPORTED;
}

RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags, UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{
	(void)Protocol;
	(void)Flags;
	(void)PTS1;
	(void)PTS2;
	(void)PTS3;
	return find(Lun) ? IFD_SUCCESS : IFD_COMMUNICATION_ERROR;
}

RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	struct reader *r = find(Lun);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	unsigned char msg;
	switch (Action) {
	case IFD_POWER_UP:
		msg = 0x01;
		break;
	case IFD_POWER_DOWN:
		msg = 0x00;
		break;
	case IFD_RESET:
		msg = 0x02;
		break;
	default:
		return IFD_NOT_SUPPORTED;
	}
	pthread_mutex_lock(&r->mu);
	RESPONSECODE rc = IFD_ERROR_POWER_ACTION;
	unsigned char getatr = 0x04;
	if (send_msg(r, &msg, 1) < 0) {
		drop_card(r);
	} else if (Action == IFD_POWER_DOWN) {
		r->atr_len = 0;
		if (AtrLength)
			*AtrLength = 0;
		rc = IFD_SUCCESS;
	} else if (send_msg(r, &getatr, 1) == 0) {
		long n = recv_msg(r, r->atr, sizeof r->atr);
		if (n > 0 && Atr && AtrLength && *AtrLength >= (DWORD)n) {
			r->atr_len = (DWORD)n;
			memcpy(Atr, r->atr, (size_t)n);
			*AtrLength = (DWORD)n;
			rc = IFD_SUCCESS;
		} else if (n <= 0) {
			drop_card(r);
		}
	} else {
		drop_card(r);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer, DWORD TxLength, PUCHAR RxBuffer, PDWORD RxLength, PSCARD_IO_HEADER RecvPci)
{
	(void)SendPci;
	struct reader *r = find(Lun);
	if (!r || !RxLength)
		return IFD_COMMUNICATION_ERROR;
	pthread_mutex_lock(&r->mu);
	unsigned char resp[MAX_BUFFER_SIZE_EXTENDED];
	long n = exchange(r, TxBuffer, TxLength, resp, sizeof resp);
	RESPONSECODE rc = IFD_COMMUNICATION_ERROR;
	if (n >= 0 && (DWORD)n <= *RxLength) {
		memcpy(RxBuffer, resp, (size_t)n);
		*RxLength = (DWORD)n;
		rc = IFD_SUCCESS;
	} else {
		*RxLength = 0;
	}
	memset(resp, 0, sizeof resp);
	if (RecvPci)
		RecvPci->Protocol = SendPci.Protocol;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* IFDHICCPresence accepts a card that connected and notices one that went:
 * a connection closed by the card's side is a removal, so a card swapped
 * for another between two polls is seen leaving and arriving. */
RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	struct reader *r = find(Lun);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	pthread_mutex_lock(&r->mu);
	if (r->conn_fd >= 0 && wait_fd(r->conn_fd, POLLIN, 0) == 0) {
		unsigned char b;
		ssize_t n = recv(r->conn_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			drop_card(r);
			pthread_mutex_unlock(&r->mu);
			return IFD_ICC_NOT_PRESENT;
		}
	}
	if (r->conn_fd < 0) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			r->conn_fd = fd;
		}
	}
	RESPONSECODE rc = r->conn_fd >= 0 ? IFD_ICC_PRESENT : IFD_ICC_NOT_PRESENT;
	pthread_mutex_unlock(&r->mu);
	return rc;
}
