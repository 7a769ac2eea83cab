// The STARTTLS dialogues (see starttls.hpp).
#include "probe/starttls.hpp"

#include <algorithm>
#include <cstdio>
#include <system_error>

#include "cli/cli.hpp"
#include "cli/failure.hpp"

namespace tlsock::cli {
namespace {

// The plain-text side of the connection: one deadline for the whole dialogue (each call on
// the stream gets what is left of it), lines read through the stream's buffer (TLSSocket::wrap
// refuses what a server sent past its last answer), and errors that name the protocol.
class Wire {
 public:
  Wire(TCPStream& stream, StartTLS protocol, std::chrono::duration<double> timeout)
      : stream_(stream),
        name_(display_name(protocol)),
        timeout_(timeout),
        deadline_(std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout)) {
    stream_.set_max_buffered_bytes(max_line_length);
  }

  [[noreturn]] void refuse(const std::string& message) const { throw Failure(tls, "STARTTLS: " + message); }
  [[noreturn]] void broken(const std::string& message) const { throw Failure(network, "STARTTLS: " + message); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  void send(std::string_view data) {
    guarded("sending to", [&] { stream_.write(data); });
  }

  char byte() {
    char c = 0;
    guarded("reading from", [&] { c = stream_.read_exactly(1).front(); });
    return c;
  }

  // One line up to and including its ending, at most max_line_length bytes.
  std::string line() {
    std::string text;
    guarded("reading from", [&] { text = stream_.read_line(); });
    return text;
  }

  // A whole SMTP or FTP reply.
  Reply reply() {
    Reply reply;
    try {
      while (!reply.add(line())) {
      }
    } catch (const std::invalid_argument& error) {
      refuse("the " + name_ + " server sent " + error.what());
    }
    return reply;
  }

 private:
  // Runs one call on the stream within what is left of the deadline; its errors in our words.
  template <typename F>
  void guarded(const char* doing, F call) {
    auto left = std::chrono::duration<double>(deadline_ - std::chrono::steady_clock::now());
    try {
      stream_.set_timeout(std::max(left, std::chrono::duration<double>::zero()));
      call();
    } catch (const TimeoutError&) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g", timeout_.count());
      broken("timed out after " + std::string(seconds) + " s waiting for the " + name_ + " server");
    } catch (const TLSDisconnectError&) {
      broken("the " + name_ + " server closed the connection");
    } catch (const std::system_error& error) {
      broken(std::string(doing) + " the " + name_ + " server failed: " + error.code().message());
    } catch (const std::runtime_error&) {  // the stream's buffer limit: no line ending in sight
      refuse("a line from the " + name_ + " server is longer than " + std::to_string(max_line_length) + " bytes");
    }
  }

  TCPStream& stream_;
  std::string name_;
  std::chrono::duration<double> timeout_;
  std::chrono::steady_clock::time_point deadline_;
};

// RFC 3207: greeting 220, EHLO, STARTTLS among the extensions, STARTTLS, 220.
void smtp(Wire& wire) {
  Reply greeting = wire.reply();
  if (greeting.code() != 220) wire.refuse("the SMTP server did not greet with 220: " + greeting.first_line());
  // A name that is syntactically a domain (strict servers want one) and can belong to nobody.
  wire.send("EHLO tlsock.invalid\r\n");
  Reply ehlo = wire.reply();
  if (ehlo.code() != 250) wire.refuse("the SMTP server refused EHLO: " + ehlo.first_line());
  if (!ehlo_offers_starttls(ehlo)) wire.refuse("the SMTP server does not offer STARTTLS");
  wire.send("STARTTLS\r\n");
  Reply go = wire.reply();
  if (go.code() != 220) wire.refuse("the SMTP server refused STARTTLS: " + go.first_line());
}

// RFC 959 / RFC 4217: greeting 220, AUTH TLS, 234.
void ftp(Wire& wire) {
  Reply greeting = wire.reply();
  if (greeting.code() != 220) wire.refuse("the FTP server did not greet with 220: " + greeting.first_line());
  wire.send("AUTH TLS\r\n");
  Reply go = wire.reply();
  if (go.code() == 500 || go.code() == 502 || go.code() == 504)
    wire.refuse("the FTP server does not offer AUTH TLS: " + go.first_line());
  if (go.code() != 234) wire.refuse("the FTP server refused AUTH TLS: " + go.first_line());
}

// RFC 3501 / RFC 2595: greeting "* OK", "a001 STARTTLS", untagged lines, "a001 OK".
void imap(Wire& wire) {
  std::string greeting = wire.line();
  if (greeting.rfind("* OK", 0) != 0)
    wire.refuse("the IMAP server did not greet with \"* OK\": " + printable(greeting));
  wire.send("a001 STARTTLS\r\n");
  for (std::size_t untagged = 0;; ++untagged) {
    std::string line = wire.line();
    if (line.rfind("a001 ", 0) == 0) {
      if (line.rfind("a001 OK", 0) == 0) return;
      wire.refuse("the IMAP server refused STARTTLS: " + printable(line));
    }
    if (line.rfind("* ", 0) != 0 && line.rfind('+', 0) != 0)
      wire.refuse("the IMAP server sent something that is not an IMAP response: \"" + printable(line) + "\"");
    if (untagged == max_reply_lines) wire.refuse("the IMAP server sent too many lines before answering STARTTLS");
  }
}

// RFC 2595: greeting "+OK", STLS, "+OK".
void pop3(Wire& wire) {
  std::string greeting = wire.line();
  if (greeting.rfind("+OK", 0) != 0) wire.refuse("the POP3 server did not greet with \"+OK\": " + printable(greeting));
  wire.send("STLS\r\n");
  std::string answer = wire.line();
  if (answer.rfind("+OK", 0) != 0) wire.refuse("the POP3 server refused STLS: " + printable(answer));
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// RFC 6120 5.4: stream header to the host, features with <starttls/>, <starttls/>, <proceed/>.
void xmpp(Wire& wire, const std::string& host) {
  wire.send(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' to='" +
      xml_escape(host) + "' version='1.0'>");
  std::string text;
  for (;;) {
    if (text.size() == max_xml_bytes)
      wire.refuse("the XMPP server sent more than " + std::to_string(max_xml_bytes) + " bytes before its features");
    text.push_back(wire.byte());
    if (text.back() != '>') continue;
    XmppScan scan = scan_xmpp_features(text);
    if (scan == XmppScan::error) {
      auto error = text.find("<stream:error");
      wire.refuse(error == std::string::npos ? std::string("the XMPP server ended the stream")
                                             : "the XMPP server sent a stream error: " + printable(text.substr(error)));
    }
    if (scan == XmppScan::done) break;
  }
  if (!xmpp_offers_starttls(text)) wire.refuse("the XMPP server does not offer STARTTLS");
  wire.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  std::string answer;
  for (;;) {
    if (answer.size() == max_xml_bytes) wire.refuse("the XMPP server's answer to <starttls/> is too long");
    answer.push_back(wire.byte());
    if (answer.back() != '>') continue;
    bool proceed = false;
    XmppScan scan = scan_xmpp_answer(answer, proceed);
    if (scan == XmppScan::error)
      wire.refuse("the XMPP server answered <starttls/> with something other than <proceed/>: " + printable(answer));
    if (scan == XmppScan::done) {
      if (!proceed) wire.refuse("the XMPP server refused STARTTLS: " + printable(answer));
      return;
    }
  }
}

// PostgreSQL protocol 53.2.9: SSLRequest (length 8, code 80877103), one byte 'S' or 'N'.
void postgres(Wire& wire) {
  static constexpr char ssl_request[] = {0, 0, 0, 8, 0x04, static_cast<char>(0xd2), 0x16, 0x2f};
  wire.send(std::string_view(ssl_request, sizeof ssl_request));
  char answer = wire.byte();
  if (answer == 'S') return;
  if (answer == 'N') wire.refuse("the PostgreSQL server does not accept SSL connections");
  if (answer == 'E')
    wire.refuse("the PostgreSQL server answered the SSLRequest with an error (a server older than 7.0?)");
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(answer));
  wire.refuse("the PostgreSQL server answered the SSLRequest with " + std::string(hex) + ", not 'S' or 'N'");
}

}  // namespace

std::optional<StartTLS> parse_starttls(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (StartTLS p : {StartTLS::smtp, StartTLS::imap, StartTLS::pop3, StartTLS::ftp, StartTLS::xmpp, StartTLS::postgres})
    if (lower == to_string(p)) return p;
  return std::nullopt;
}

std::string_view to_string(StartTLS protocol) {
  switch (protocol) {
    case StartTLS::smtp:
      return "smtp";
    case StartTLS::imap:
      return "imap";
    case StartTLS::pop3:
      return "pop3";
    case StartTLS::ftp:
      return "ftp";
    case StartTLS::xmpp:
      return "xmpp";
    case StartTLS::postgres:
      return "postgres";
  }
  return "unknown";
}

std::string_view display_name(StartTLS protocol) {
  switch (protocol) {
    case StartTLS::smtp:
      return "SMTP";
    case StartTLS::imap:
      return "IMAP";
    case StartTLS::pop3:
      return "POP3";
    case StartTLS::ftp:
      return "FTP";
    case StartTLS::xmpp:
      return "XMPP";
    case StartTLS::postgres:
      return "PostgreSQL";
  }
  return "unknown";
}

std::uint16_t default_port(StartTLS protocol) {
  switch (protocol) {
    case StartTLS::smtp:
      return 25;
    case StartTLS::imap:
      return 143;
    case StartTLS::pop3:
      return 110;
    case StartTLS::ftp:
      return 21;
    case StartTLS::xmpp:
      return 5222;
    case StartTLS::postgres:
      return 5432;
  }
  return 0;
}

void starttls_upgrade(TCPStream& stream, StartTLS protocol, const std::string& host,
                      std::chrono::duration<double> timeout) {
  Wire wire(stream, protocol, timeout);
  switch (protocol) {
    case StartTLS::smtp:
      return smtp(wire);
    case StartTLS::imap:
      return imap(wire);
    case StartTLS::pop3:
      return pop3(wire);
    case StartTLS::ftp:
      return ftp(wire);
    case StartTLS::xmpp:
      return xmpp(wire, host);
    case StartTLS::postgres:
      return postgres(wire);
  }
}

}  // namespace tlsock::cli
