// The plain-text dialogues that turn a connection into a TLS one (STARTTLS), as
// `openssl s_client -starttls` runs them: SMTP, IMAP, POP3, FTP, XMPP and PostgreSQL.
//
// starttls_upgrade() talks on a connected TCPStream and returns when the next bytes on it
// belong to the TLS handshake; the caller then hands the stream to TLSSocket::wrap. Bytes a
// server (or someone in between) sends past its last plain-text answer stay in the stream's
// buffer, and TLSSocket::wrap refuses them (a TLS server says nothing before the ClientHello):
// they are never taken as part of the dialogue or of TLS.
//
// The parsers below are inline so tests can check them without a socket.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/tcp.hpp"

namespace tlsock::cli {

enum class StartTLS { smtp, imap, pop3, ftp, xmpp, postgres };

// "smtp", "imap", "pop3", "ftp", "xmpp", "postgres" (case-insensitive); nullopt otherwise.
[[nodiscard]] std::optional<StartTLS> parse_starttls(std::string_view name);
[[nodiscard]] std::string_view to_string(StartTLS protocol);     // "smtp"
[[nodiscard]] std::string_view display_name(StartTLS protocol);  // "SMTP", "PostgreSQL"
// The port a server of that protocol listens on for STARTTLS: 25, 143, 110, 21, 5222, 5432.
[[nodiscard]] std::uint16_t default_port(StartTLS protocol);

// Bounds on what a server may send before TLS starts.
inline constexpr std::size_t max_line_length = 4096;     // one line, ending included
inline constexpr std::size_t max_reply_lines = 200;      // lines of one multi-line reply
inline constexpr std::size_t max_xml_bytes = 64 * 1024;  // XMPP stream header and features

// Runs the protocol's upgrade dialogue on stream, all of it within timeout. host is the
// server's name, sent where the protocol wants one (XMPP's to=). Throws cli::Failure:
//   exit code 4 (tls)     the server does not offer STARTTLS, refuses it, or answers with
//                         something that is not the protocol (or too long a line);
//   exit code 3 (network) the server closed the connection, the timeout passed, or recv/send
//                         failed.
// Messages start with "STARTTLS: ", e.g. "STARTTLS: the SMTP server does not offer STARTTLS".
void starttls_upgrade(TCPStream& stream, StartTLS protocol, const std::string& host,
                      std::chrono::duration<double> timeout);

// A line for an error message: the ending removed, control bytes as '?', at most 120 bytes.
[[nodiscard]] inline std::string printable(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string out;
  for (char c : text.substr(0, 120)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (text.size() > 120) out += "...";
  return out;
}

// One reply of SMTP (RFC 5321 4.2.1) or FTP (RFC 959 4.2), fed line by line:
//   250-first line          a three-digit code and '-': more lines follow
//   250-second line
//   250 last line           the same code and ' ' (or nothing): the last line
// FTP lets the lines in between carry no code at all; they are kept as they are.
class Reply {
 public:
  // Adds one line (its ending may be included). Returns true once the reply is complete.
  // Throws std::invalid_argument when the first line does not start with a reply code
  // (the message quotes the line) or the reply has more than max_reply_lines lines.
  bool add(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (complete_) throw std::logic_error("Reply::add after the last line");
    if (lines_.empty()) {
      if (!starts_with_code(line) || (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
        throw std::invalid_argument("not a reply: \"" + printable(line) + "\"");
      code_ = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      first_ = std::string(line);
      complete_ = line.size() == 3 || line[3] == ' ';
      lines_.emplace_back(line.size() > 3 ? line.substr(4) : std::string_view());
      return complete_;
    }
    if (lines_.size() >= max_reply_lines)
      throw std::invalid_argument("a reply of more than " + std::to_string(max_reply_lines) + " lines");
    bool same_code = line.size() >= 3 && line.substr(0, 3) == first_.substr(0, 3) && starts_with_code(line);
    if (same_code && (line.size() == 3 || line[3] == ' ')) {
      complete_ = true;
      lines_.emplace_back(line.size() > 3 ? line.substr(4) : std::string_view());
    } else if (same_code && line[3] == '-') {
      lines_.emplace_back(line.substr(4));
    } else {
      lines_.emplace_back(line);  // FTP: text between the first and last line
    }
    return complete_;
  }

  [[nodiscard]] bool complete() const noexcept { return complete_; }
  [[nodiscard]] int code() const noexcept { return code_; }
  // The text of each line without its code and separator.
  [[nodiscard]] const std::vector<std::string>& lines() const noexcept { return lines_; }
  // The first line as received, for messages ("454 4.7.0 TLS not available").
  [[nodiscard]] std::string first_line() const { return printable(first_); }

 private:
  static bool starts_with_code(std::string_view line) {
    return line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
           std::isdigit(static_cast<unsigned char>(line[1])) && std::isdigit(static_cast<unsigned char>(line[2]));
  }

  std::vector<std::string> lines_;
  std::string first_;
  int code_ = 0;
  bool complete_ = false;
};

// Whether an EHLO reply (RFC 5321 4.1.1.1) lists the STARTTLS extension (RFC 3207): one of
// the lines after the first (which is the server's name) has the keyword STARTTLS, in any case.
[[nodiscard]] inline bool ehlo_offers_starttls(const Reply& ehlo) {
  if (ehlo.code() != 250) return false;
  const auto& lines = ehlo.lines();
  return std::any_of(lines.begin() + (lines.empty() ? 0 : 1), lines.end(), [](const std::string& line) {
    std::string_view keyword(line);
    keyword = keyword.substr(0, std::min(keyword.find(' '), keyword.size()));
    return keyword.size() == 8 && std::equal(keyword.begin(), keyword.end(), "STARTTLS", [](char a, char b) {
             return std::toupper(static_cast<unsigned char>(a)) == b;
           });
  });
}

// Reading an XMPP server's answers (RFC 6120 5.4.2). The text so far is scanned again as it
// grows; it is bounded by max_xml_bytes.
enum class XmppScan { incomplete, done, error };

// The server's stream header and <stream:features>: done once the features element has
// ended, error once a whole <stream:error> or the end of the stream arrived.
[[nodiscard]] inline XmppScan scan_xmpp_features(std::string_view text) {
  if (text.find("</stream:error>") != std::string_view::npos || text.find("</stream:stream>") != std::string_view::npos)
    return XmppScan::error;
  if (text.find("</stream:features>") != std::string_view::npos) return XmppScan::done;
  auto open = text.find("<stream:features");
  if (open != std::string_view::npos) {
    auto close = text.find('>', open);
    if (close != std::string_view::npos && text[close - 1] == '/') return XmppScan::done;  // <stream:features/>
  }
  return XmppScan::incomplete;
}

// Whether the features offer STARTTLS: a starttls element in the xmpp-tls namespace.
[[nodiscard]] inline bool xmpp_offers_starttls(std::string_view features) {
  return features.find("<starttls") != std::string_view::npos &&
         features.find("urn:ietf:params:xml:ns:xmpp-tls") != std::string_view::npos;
}

// The answer to <starttls/>: one element, <proceed/> or <failure/> (a prefix such as
// "tls:" is allowed). done with *proceed set once the element has ended; error for any
// other element, a <stream:error> included.
[[nodiscard]] inline XmppScan scan_xmpp_answer(std::string_view text, bool& proceed) {
  auto open = text.find('<');
  if (open == std::string_view::npos) return XmppScan::incomplete;
  auto end_of_tag = text.find('>', open);
  if (end_of_tag == std::string_view::npos) return XmppScan::incomplete;
  std::string_view tag = text.substr(open + 1, end_of_tag - open - 1);
  std::string_view name = tag.substr(0, std::min(tag.find_first_of(" \t\r\n/"), tag.size()));
  if (auto colon = name.find(':'); colon != std::string_view::npos && name.substr(0, colon) != "stream")
    name = name.substr(colon + 1);
  if (name != "proceed" && name != "failure") return XmppScan::error;
  proceed = name == "proceed";
  if (!tag.empty() && tag.back() == '/') return XmppScan::done;
  // <proceed ...></proceed>: wait for the end tag, so none of it is left for TLS to read.
  auto close = text.find("</", end_of_tag);
  if (close == std::string_view::npos || text.find('>', close) == std::string_view::npos) return XmppScan::incomplete;
  return XmppScan::done;
}

}  // namespace tlsock::cli
