"""Small helpers the bench scripts share: hand-encoded protobuf fields, readiness polling, percentiles."""
import struct, time, urllib.request


def field(number, text):
    """A length-delimited (string) field; ids stay under 128 bytes here."""
    data = text.encode()
    return bytes([number << 3 | 2, len(data)]) + data


def double(number, value):
    return bytes([number << 3 | 1]) + struct.pack("<d", value)


def varint(data, i):
    shift = value = 0
    while True:
        b = data[i]; i += 1
        value |= (b & 0x7F) << shift; shift += 7
        if b < 0x80:
            return value, i


def wait_http(url):
    for _ in range(3000):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.01)
    raise SystemExit("timed out waiting for " + url)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]
