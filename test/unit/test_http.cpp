// The HTTP/1.1 pieces of `tlsock fetch` (tools/tlsock/http.hpp), without any network: the
// response parser's framing (Content-Length, chunked with trailers, close-delimited, no
// body), its refusals (RFC 9112's and its own limits), feeding one byte at a time, request
// bytes and -H arguments, and URL parsing and resolution.
#include <string>
#include <string_view>

#include "http/http.hpp"
#include "support/catch.hpp"

using namespace tlsock::http;
using namespace std::string_literals;

namespace {

struct Parsed {
  std::string body;
  std::size_t used = 0;
};

// Feeds all of wire at once.
Parsed parse(ResponseParser& parser, std::string_view wire) {
  Parsed parsed;
  parsed.used = parser.feed(wire, parsed.body);
  return parsed;
}

// Feeds wire one byte at a time, stopping where the parser stops using bytes.
Parsed parse_bytewise(ResponseParser& parser, std::string_view wire) {
  Parsed parsed;
  for (char c : wire) {
    std::size_t used = parser.feed(std::string_view(&c, 1), parsed.body);
    parsed.used += used;
    if (used == 0) break;
  }
  return parsed;
}

// The ProtocolError message a complete response gets, "" when it parses.
std::string rejection(std::string_view wire, bool head_request = false) {
  ResponseParser parser(head_request);
  std::string body;
  try {
    (void)parser.feed(wire, body);
  } catch (const ProtocolError& error) {
    return error.what();
  }
  return {};
}

constexpr std::string_view chunked_response =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Trailer: X-Checksum\r\n"
    "\r\n"
    "5\r\nhello\r\n"
    "1;name=value;other\r\n \r\n"
    "0000000006 \r\nworld!\r\n"
    "0\r\n"
    "X-Checksum: abc\r\n"
    "X-Other: def\r\n"
    "\r\n";

}  // namespace

TEST_CASE("Content-Length bodies end exactly at their length", "[http]") {
  ResponseParser parser;
  std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: test\r\n\r\nhelloHTTP/1.1 next";
  Parsed parsed = parse(parser, wire);
  CHECK(parser.complete());
  CHECK(parsed.body == "hello");
  CHECK(parsed.used == wire.size() - std::string_view("HTTP/1.1 next").size());
  CHECK(parser.framing() == Framing::content_length);
  CHECK(parser.content_length() == 5);
  CHECK(parser.body_bytes() == 5);
  CHECK(parser.response().status == 200);
  CHECK(parser.response().reason == "OK");
  CHECK(parser.response().version == 11);
  REQUIRE(parser.response().headers.size() == 2);
  CHECK(parser.response().headers[1].name == "Server");
  CHECK(parser.response().headers[1].value == "test");
  CHECK(parser.reusable());
}

TEST_CASE("a response split at every byte parses the same", "[http]") {
  ResponseParser parser;
  std::string wire = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
  Parsed parsed = parse_bytewise(parser, wire);
  CHECK(parser.complete());
  CHECK(parsed.used == wire.size());
  CHECK(parsed.body == "not found");
  CHECK(parser.response().status == 404);
  CHECK(parser.response().reason == "Not Found");
}

TEST_CASE("chunked bodies with extensions and trailers", "[http]") {
  SECTION("all at once") {
    ResponseParser parser;
    std::string wire = std::string(chunked_response) + "extra";
    Parsed parsed = parse(parser, wire);
    CHECK(parser.complete());
    CHECK(parsed.used == chunked_response.size());
    CHECK(parsed.body == "hello world!");
    CHECK(parser.framing() == Framing::chunked);
    CHECK(parser.body_bytes() == 12);
    REQUIRE(parser.response().trailers.size() == 2);
    CHECK(parser.response().trailers[0].name == "X-Checksum");
    CHECK(parser.response().trailers[0].value == "abc");
    CHECK(parser.reusable());
  }
  SECTION("one byte at a time") {
    ResponseParser parser;
    Parsed parsed = parse_bytewise(parser, std::string(chunked_response) + "extra");
    CHECK(parser.complete());
    CHECK(parsed.used == chunked_response.size());
    CHECK(parsed.body == "hello world!");
    CHECK(parser.response().trailers.size() == 2);
  }
  SECTION("headers_complete turns true before the body arrives") {
    ResponseParser parser;
    std::string body;
    std::size_t headers_end = chunked_response.find("\r\n\r\n") + 4;
    (void)parser.feed(chunked_response.substr(0, headers_end - 1), body);
    CHECK_FALSE(parser.headers_complete());
    (void)parser.feed(chunked_response.substr(headers_end - 1, 1), body);
    CHECK(parser.headers_complete());
    CHECK_FALSE(parser.complete());
    CHECK(body.empty());
  }
  SECTION("bare LF line endings and no trailers") {
    ResponseParser parser;
    Parsed parsed = parse(parser, "HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n3\nabc\n0\n\n");
    CHECK(parser.complete());
    CHECK(parsed.body == "abc");
  }
  SECTION("a large chunk in hex") {
    ResponseParser parser;
    std::string data(0x1234, 'x');
    Parsed parsed =
        parse(parser, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234\r\n" + data + "\r\n0\r\n\r\n");
    CHECK(parser.complete());
    CHECK(parsed.body == data);
  }
}

TEST_CASE("a close-delimited body ends only with finish()", "[http]") {
  ResponseParser parser;
  Parsed parsed = parse_bytewise(parser, "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\nline one\nline two\n");
  CHECK(parser.framing() == Framing::until_close);
  CHECK(parser.headers_complete());
  CHECK_FALSE(parser.complete());
  CHECK(parsed.body == "line one\nline two\n");
  parser.finish();
  CHECK(parser.complete());
  CHECK(parser.body_bytes() == 18);
  CHECK_FALSE(parser.reusable());  // the connection is gone
  CHECK(parser.response().version == 10);
}

TEST_CASE("HEAD, 204 and 304 responses have no body whatever their headers say", "[http]") {
  SECTION("HEAD") {
    ResponseParser parser(true);
    std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    Parsed parsed = parse(parser, wire + "HTTP/1.1 200 OK\r\n");
    CHECK(parser.complete());
    CHECK(parsed.used == wire.size());
    CHECK(parsed.body.empty());
    CHECK(parser.framing() == Framing::none);
    CHECK(parser.content_length() == 1000);  // the size a GET would have had
    CHECK(parser.reusable());
  }
  SECTION("HEAD with chunked") {
    ResponseParser parser(true);
    (void)parse(parser, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(parser.complete());
  }
  for (std::string status : {"204 No Content", "304 Not Modified"}) {
    DYNAMIC_SECTION(status) {
      ResponseParser parser;
      std::string wire = "HTTP/1.1 " + status + "\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n";
      Parsed parsed = parse(parser, wire + "0123456789");
      CHECK(parser.complete());
      CHECK(parsed.used == wire.size());
      CHECK(parsed.body.empty());
    }
  }
  SECTION("Content-Length: 0") {
    ResponseParser parser;
    (void)parse(parser, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK(parser.complete());
    CHECK(parser.framing() == Framing::none);
  }
}

TEST_CASE("interim 1xx responses are skipped; 101 is refused", "[http]") {
  ResponseParser parser;
  Parsed parsed = parse_bytewise(parser,
                                 "HTTP/1.1 100 Continue\r\n\r\n"
                                 "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                 "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  CHECK(parser.complete());
  CHECK(parser.interim_responses() == 2);
  CHECK(parser.response().status == 201);
  CHECK(parser.response().headers.size() == 1);
  CHECK(parsed.body == "ok");
  CHECK(rejection("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n").find("101") != std::string::npos);
}

TEST_CASE("keep-alive follows the version and the Connection header", "[http]") {
  auto reusable = [](std::string_view wire) {
    ResponseParser parser;
    std::string body;
    (void)parser.feed(wire, body);
    return parser.reusable();
  };
  CHECK(reusable("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(reusable("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(reusable("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(reusable("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK(reusable("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"));
}

TEST_CASE("status lines that RFC 9112 rejects", "[http]") {
  CHECK(rejection("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").empty());
  CHECK(rejection("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").empty());  // no reason: tolerated
  CHECK(rejection("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").empty());
  CHECK(rejection("HTTP/1.1 200 OK\tfine\x80\r\nContent-Length: 0\r\n\r\n").empty());  // HTAB, obs-text
  for (std::string_view bad :
       {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/11 200 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1\t200 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n", "HTTP/1.1 200 OK\rX: y\r\n\r\n"}) {
    INFO(bad);
    CHECK_FALSE(rejection(bad).empty());
  }
  CHECK(rejection("HTTP/2.0 200 OK\r\n\r\n").find("unsupported version HTTP/2.0") != std::string::npos);
  CHECK(rejection("SSH-2.0-OpenSSH_9.2\r\n").find("bad status line") != std::string::npos);
}

TEST_CASE("a status line that is not HTTP fails before its end arrives", "[http]") {
  ResponseParser parser;
  std::string body;
  CHECK_THROWS_AS(parser.feed("\x16\x03\x03\x00\x02\x02\x28", body), ProtocolError);
  CHECK_THROWS_AS(parser.feed("more", body), ProtocolError);  // failed stays failed
}

TEST_CASE("field lines that RFC 9112 rejects", "[http]") {
  auto with_header = [](std::string_view line) {
    return rejection("HTTP/1.1 200 OK\r\n" + std::string(line) + "\r\nContent-Length: 0\r\n\r\n");
  };
  CHECK(with_header("X-Fine: a \"quoted\" value\t with tab").empty());
  CHECK(with_header("X-Empty:").empty());
  CHECK(with_header("X-Obs-Text: caf\xc3\xa9").empty());
  CHECK(with_header("X-Folded: a\r\n  continued").find("obsolete line folding") != std::string::npos);
  CHECK(with_header("X-Folded: a\r\n\tcontinued").find("obsolete line folding") != std::string::npos);
  CHECK(with_header("X-Space : value").find("invalid field name") != std::string::npos);
  CHECK(with_header(": value").find("invalid field name") != std::string::npos);
  CHECK(with_header("X(Paren): value").find("invalid field name") != std::string::npos);
  CHECK(with_header("X-Bad\x01Name: value").find("invalid field name") != std::string::npos);
  CHECK(with_header("No colon here").find("without a colon") != std::string::npos);
  CHECK(with_header(std::string("X-Nul: a") + '\0' + "b").find("control character 0x00") != std::string::npos);
  CHECK(with_header("X-Cr: a\rb").find("control character 0x0d") != std::string::npos);
  CHECK(with_header("X-Esc: a\x1b[31mb").find("control character 0x1b") != std::string::npos);
  CHECK(with_header("X-Del: a\x7f").find("control character 0x7f") != std::string::npos);
  // A header line starting with whitespace right after the status line, too.
  CHECK(rejection("HTTP/1.1 200 OK\r\n X: y\r\n\r\n").find("obsolete line folding") != std::string::npos);
}

TEST_CASE("Content-Length must be one number", "[http]") {
  auto with = [](std::string_view headers) { return rejection("HTTP/1.1 200 OK\r\n" + std::string(headers) + "\r\n"); };
  CHECK(with("Content-Length: 3\r\n").empty());
  CHECK(with("Content-Length: 3, 3\r\n").empty());
  CHECK(with("Content-Length: 3\r\nContent-Length: 3\r\n").empty());
  CHECK(with("Content-Length: 003\r\n").empty());
  CHECK(with("Content-Length: 3\r\nContent-Length: 4\r\n").find("conflicting Content-Length") != std::string::npos);
  CHECK(with("Content-Length: 3, 4\r\n").find("conflicting Content-Length") != std::string::npos);
  for (std::string_view bad : {"Content-Length: abc\r\n", "Content-Length: -1\r\n", "Content-Length: +3\r\n",
                               "Content-Length: 3x\r\n", "Content-Length: 0x10\r\n", "Content-Length: 3 4\r\n",
                               "Content-Length:\r\n", "Content-Length: 3,\r\n", "Content-Length: 1.5\r\n"}) {
    INFO(bad);
    CHECK(with(bad).find("bad Content-Length") != std::string::npos);
  }
  CHECK(with("Content-Length: 99999999999999999999999999\r\n").find("too large") != std::string::npos);
  CHECK(with("Content-Length: 18446744073709551616\r\n").find("too large") != std::string::npos);
}

TEST_CASE("Transfer-Encoding: chunked alone, last, once, and never with Content-Length", "[http]") {
  auto with = [](std::string_view status_line, std::string_view headers) {
    return rejection(std::string(status_line) + "\r\n" + std::string(headers) + "\r\n0\r\n\r\n");
  };
  std::string_view ok = "HTTP/1.1 200 OK";
  CHECK(with(ok, "Transfer-Encoding: chunked\r\n").empty());
  CHECK(with(ok, "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")
            .find("both Transfer-Encoding and Content-Length") != std::string::npos);
  CHECK(with(ok, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n").find("both") != std::string::npos);
  CHECK(with(ok, "Transfer-Encoding: gzip, chunked\r\n").find("unsupported transfer coding \"gzip\"") !=
        std::string::npos);
  CHECK(with(ok, "Transfer-Encoding: chunked, gzip\r\n").find("more than once") == std::string::npos);
  CHECK_FALSE(with(ok, "Transfer-Encoding: chunked, gzip\r\n").empty());
  CHECK(with(ok, "Transfer-Encoding: gzip\r\n").find("unsupported transfer coding") != std::string::npos);
  CHECK(with(ok, "Transfer-Encoding: chunked, chunked\r\n").find("more than once") != std::string::npos);
  CHECK(with(ok, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n").find("more than once") !=
        std::string::npos);
  CHECK(with(ok, "Transfer-Encoding: \r\n").find("empty Transfer-Encoding") != std::string::npos);
  CHECK(with("HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n").find("HTTP/1.0") != std::string::npos);
}

TEST_CASE("bad chunk framing", "[http]") {
  auto chunked = [](std::string_view body) {
    return rejection("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(body));
  };
  CHECK(chunked("3\r\nabc\r\n0\r\n\r\n").empty());
  for (std::string_view bad : {"\r\n", "x\r\n", "-3\r\nabc\r\n", "0x3\r\nabc\r\n", "3 4\r\nabc\r\n", "+3\r\nabc\r\n",
                               " 3\r\nabc\r\n", "3,\r\nabc\r\n"}) {
    INFO(bad);
    CHECK(chunked(bad).find("bad chunk size line") != std::string::npos);
  }
  CHECK(chunked("fffffffffffffffffff\r\n").find("too large") != std::string::npos);
  CHECK(chunked("3;ext=\x01\r\nabc\r\n").find("chunk extension") != std::string::npos);
  CHECK(chunked("3\r\nabcd\r\n").find("not followed by CRLF") != std::string::npos);
  CHECK(chunked("3\r\nabc\r\r\n").find("not followed by CRLF") != std::string::npos);
  CHECK(chunked("3\r\nabc0\r\n").find("not followed by CRLF") != std::string::npos);
  CHECK(chunked("3;" + std::string(5000, 'x') + "\r\n").find("chunk size line larger than") != std::string::npos);
  CHECK(chunked("0\r\nX-Folded: a\r\n b\r\n\r\n").find("obsolete line folding") != std::string::npos);
  CHECK(chunked("0\r\nBad Name: a\r\n\r\n").find("invalid field name") != std::string::npos);
}

TEST_CASE("the header and trailer sections are bounded", "[http]") {
  std::string big(1000, 'a');
  std::string headers;
  for (int i = 0; i < 70; ++i) headers += "X-Filler-" + std::to_string(i) + ": " + big + "\r\n";
  CHECK(rejection("HTTP/1.1 200 OK\r\n" + headers + "\r\n").find("header section larger than 65536 bytes") !=
        std::string::npos);
  CHECK(rejection("HTTP/1.1 200 OK\r\nX: " + std::string(70000, 'a')).find("header section larger") !=
        std::string::npos);
  CHECK(rejection("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + headers)
            .find("trailer section larger than 65536 bytes") != std::string::npos);
  // A smaller limit, and interim responses count against it.
  ResponseParser parser(false, 100);
  std::string body;
  (void)parser.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n", body);
  CHECK_THROWS_WITH(parser.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100", body),
                    Catch::Matchers::Contains("header section larger than 100 bytes"));
}

TEST_CASE("finish() tells a clean end from a truncation", "[http]") {
  auto truncation = [](std::string_view wire) -> std::string {
    ResponseParser parser;
    std::string body;
    (void)parser.feed(wire, body);
    try {
      parser.finish();
    } catch (const TruncatedError& error) {
      return error.what();
    }
    return {};
  };
  CHECK(truncation("") == "the connection closed before a response arrived");
  CHECK(truncation("HTTP/1.1 200 OK\r\nContent-") == "the connection closed in the middle of the response headers");
  CHECK(truncation("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") ==
        "the connection closed after 3 of 10 body bytes");
  CHECK(truncation("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab") ==
        "the connection closed in the middle of the chunked body, after 2 bytes");
  CHECK(truncation("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n") ==
        "the connection closed in the middle of the trailer section");
  CHECK(truncation("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").empty());
  CHECK(truncation("HTTP/1.1 200 OK\r\n\r\nabc").empty());
}

TEST_CASE("request bytes", "[http]") {
  Request request;
  request.url = parse_url("https://Example.COM:8443/a/b?c=d#frag");
  std::string bytes = build_request(request, "tlsock/test");
  CHECK(bytes ==
        "GET /a/b?c=d HTTP/1.1\r\n"
        "Host: example.com:8443\r\n"
        "User-Agent: tlsock/test\r\n"
        "Accept: */*\r\n"
        "Connection: keep-alive\r\n"
        "\r\n");

  request.method = "PUT";
  request.url = parse_url("https://[::1]/");
  request.body = std::string("x=1\0y", 5);
  request.headers = {parse_header_argument("Accept: text/plain"), parse_header_argument("X-Custom:  two words  "),
                     parse_header_argument("User-Agent:"), parse_header_argument("Content-Type: application/json")};
  bytes = build_request(request, "tlsock/test");
  CHECK(bytes ==
        "PUT / HTTP/1.1\r\n"
        "Host: [::1]\r\n"
        "Accept: text/plain\r\n"
        "Connection: keep-alive\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 5\r\n"
        "X-Custom: two words\r\n"
        "\r\n"
        "x=1\0y"s);
}

TEST_CASE("-H arguments", "[http]") {
  Field field = parse_header_argument("X-Name:value");
  CHECK(field.name == "X-Name");
  CHECK(field.value == "value");
  CHECK_THROWS_WITH(parse_header_argument("no colon"), Catch::Matchers::Contains("expected \"Name: value\""));
  CHECK_THROWS_WITH(parse_header_argument("Bad Name: x"), Catch::Matchers::Contains("invalid header name"));
  CHECK_THROWS_WITH(parse_header_argument("X: a\r\nInjected: b"), Catch::Matchers::Contains("control character"));
  CHECK_THROWS_WITH(parse_header_argument("content-length: 5"), Catch::Matchers::Contains("framing"));
  CHECK_THROWS_WITH(parse_header_argument("Transfer-Encoding: chunked"), Catch::Matchers::Contains("framing"));
}

TEST_CASE("URLs: https only, with a host, an optional port and a target", "[http]") {
  Url url = parse_url("https://example.com");
  CHECK(url.host == "example.com");
  CHECK(url.port == 443);
  CHECK(url.target == "/");
  CHECK(url.authority() == "example.com");
  CHECK(url.str() == "https://example.com/");

  url = parse_url("HTTPS://LocalHost:4433/x/y.txt?q=1&r#top");
  CHECK(url.host == "localhost");
  CHECK(url.port == 4433);
  CHECK(url.target == "/x/y.txt?q=1&r");
  CHECK(url.str() == "https://localhost:4433/x/y.txt?q=1&r");

  url = parse_url("https://[::1]:8443?x");
  CHECK(url.host == "::1");
  CHECK(url.port == 8443);
  CHECK(url.target == "/?x");
  CHECK(url.authority() == "[::1]:8443");

  CHECK(parse_url("https://host:/").port == 443);
  CHECK(parse_url("https://host:443/").authority() == "host");

  CHECK_THROWS_WITH(parse_url("http://example.com/"), Catch::Matchers::Contains("http:// is not supported"));
  CHECK_THROWS_WITH(parse_url("ftp://example.com/"), Catch::Matchers::Contains("unsupported scheme \"ftp\""));
  for (std::string_view bad : {"example.com", "https:example.com", "https:/example.com", "", "/path"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_url(bad), Catch::Matchers::Contains("not an absolute URL"));
  }
  CHECK_THROWS_WITH(parse_url("https://"), Catch::Matchers::Contains("no host"));
  CHECK_THROWS_WITH(parse_url("https://:443/"), Catch::Matchers::Contains("no host"));
  CHECK_THROWS_WITH(parse_url("https://host:0/"), Catch::Matchers::Contains("bad port"));
  CHECK_THROWS_WITH(parse_url("https://host:65536/"), Catch::Matchers::Contains("bad port"));
  CHECK_THROWS_WITH(parse_url("https://host:99999999999999999999/"), Catch::Matchers::Contains("bad port"));
  CHECK_THROWS_WITH(parse_url("https://host:x/"), Catch::Matchers::Contains("bad port"));
  CHECK_THROWS_WITH(parse_url("https://user:pw@host/"), Catch::Matchers::Contains("user names"));
  // fetch's forms: http:// (port 80 by default) and userinfo, which str() never shows.
  Url plain = parse_url("http://u:p%40w@Host/x", true);
  CHECK((!plain.secure && plain.host == "host" && plain.port == 80 && plain.userinfo == "u:p%40w"));
  CHECK(plain.str() == "http://host/x");
  CHECK(parse_url("http://host:443/", true).str() == "http://host:443/");
  CHECK(!resolve(parse_url("https://a/"), "http://b/", true).secure);
  CHECK(resolve(plain, "//c/y", true).str() == "http://c/y");
  CHECK(resolve(plain, "/z", true).userinfo.empty());
  CHECK_THROWS_WITH(parse_url("https://ho$t/"), Catch::Matchers::Contains("bad host name"));
  CHECK_THROWS_WITH(parse_url("https://[::1/"), Catch::Matchers::Contains("bad IPv6 address"));
  CHECK_THROWS_WITH(parse_url("https://[nothex]/"), Catch::Matchers::Contains("bad IPv6 address"));
  CHECK_THROWS_WITH(parse_url("https://host/a b"), Catch::Matchers::Contains("percent-encode"));
  CHECK_THROWS_WITH(parse_url("https://host/a\r\nX: y"), Catch::Matchers::Contains("percent-encode"));
  CHECK_THROWS_WITH(parse_url("https://host/caf\xc3\xa9"), Catch::Matchers::Contains("percent-encode"));
}

TEST_CASE("Location references resolve as RFC 3986 section 5.4 says", "[http]") {
  Url base = parse_url("https://a:8443/b/c/d;p?q");
  auto resolved = [&](std::string_view reference) { return resolve(base, reference).str(); };
  // RFC 3986 section 5.4.1 (normal examples), with our https base.
  CHECK(resolved("g") == "https://a:8443/b/c/g");
  CHECK(resolved("./g") == "https://a:8443/b/c/g");
  CHECK(resolved("g/") == "https://a:8443/b/c/g/");
  CHECK(resolved("/g") == "https://a:8443/g");
  CHECK(resolved("//g") == "https://g/");
  CHECK(resolved("?y") == "https://a:8443/b/c/d;p?y");
  CHECK(resolved("g?y") == "https://a:8443/b/c/g?y");
  CHECK(resolved("#s") == "https://a:8443/b/c/d;p?q");
  CHECK(resolved("g#s") == "https://a:8443/b/c/g");
  CHECK(resolved(";x") == "https://a:8443/b/c/;x");
  CHECK(resolved("") == "https://a:8443/b/c/d;p?q");
  CHECK(resolved(".") == "https://a:8443/b/c/");
  CHECK(resolved("./") == "https://a:8443/b/c/");
  CHECK(resolved("..") == "https://a:8443/b/");
  CHECK(resolved("../") == "https://a:8443/b/");
  CHECK(resolved("../g") == "https://a:8443/b/g");
  CHECK(resolved("../..") == "https://a:8443/");
  CHECK(resolved("../../g") == "https://a:8443/g");
  // 5.4.2 (abnormal examples)
  CHECK(resolved("../../../g") == "https://a:8443/g");
  CHECK(resolved("/./g") == "https://a:8443/g");
  CHECK(resolved("/../g") == "https://a:8443/g");
  CHECK(resolved("g.") == "https://a:8443/b/c/g.");
  CHECK(resolved("..g") == "https://a:8443/b/c/..g");
  CHECK(resolved("./../g") == "https://a:8443/b/g");
  CHECK(resolved("g/./h") == "https://a:8443/b/c/g/h");
  CHECK(resolved("g/../h") == "https://a:8443/b/c/h");
  CHECK(resolved("g;x=1/../y") == "https://a:8443/b/c/y");
  // Absolute references
  CHECK(resolved("https://other.example/x") == "https://other.example/x");
  CHECK(resolved("HTTPS://other.example:444") == "https://other.example:444/");
  CHECK_THROWS_WITH(resolve(base, "http://other.example/"), Catch::Matchers::Contains("http:// is not supported"));
  CHECK_THROWS_WITH(resolve(base, "/a b"), Catch::Matchers::Contains("percent-encode"));
}

TEST_CASE("parse_request_head: what tlsock serve accepts and the status for what it refuses", "[http]") {
  tlsock::http::RequestHead head;
  CHECK(tlsock::http::parse_request_head("GET /a?b HTTP/1.1\r\nHost: x\r\nConnection: a, Close\r\n", head, 100) == 0);
  CHECK(head.method == "GET");
  CHECK(head.target == "/a?b");
  CHECK(head.minor == 1);
  CHECK(head.all("HOST") == std::vector<std::string_view>{"x"});
  CHECK(tlsock::http::has_token(head.headers, "connection", "close"));
  struct Case {
    std::string text;
    int status;
  };
  for (const Case& c : std::vector<Case>{{"GET / HTTP/1.1\r\n", 400},                        // no Host
                                         {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400},  // two
                                         {"GET  / HTTP/1.1\r\nHost: a\r\n", 400},            // double space
                                         {"GET / HTTP/2.0\r\nHost: a\r\n", 505},
                                         {"GET / HTTP/1.1\r\nHost : a\r\n", 400},       // space before the colon
                                         {"GET / HTTP/1.1\r\nHost: a\r\n b\r\n", 400},  // obs-fold
                                         {"GET / HTTP/1.1\r\nHost: a\rb\r\n", 400},     // a bare CR
                                         {"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n", 431}}) {
    tlsock::http::RequestHead refused;
    INFO(c.text);
    CHECK(tlsock::http::parse_request_head(c.text, refused, 2) == c.status);
  }
  CHECK(tlsock::http::find_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest") ==
        std::pair<std::size_t, std::size_t>(25, 27));
  CHECK_FALSE(tlsock::http::find_head_end("GET / HTTP/1.1\r\nHost: a\r\n"));
}
