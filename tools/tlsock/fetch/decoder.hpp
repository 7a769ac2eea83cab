// fetch --compressed: a body's Content-Encoding (gzip, deflate) undone with zlib, in bounded
// steps: each piece of input gives its output in chunks of at most 64 KiB, handed on at once,
// so memory stays bounded whatever the ratio (a "zip bomb" costs only what is written).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace tlsock::cli {

class Decoder {
 public:
  using Sink = std::function<void(std::string_view bytes)>;

  // encoding: the Content-Encoding value, "gzip" or "deflate" (zlib-wrapped, or raw as some
  // servers send it); anything else is a Failure(tls) naming it.
  Decoder(const std::string& encoding, Sink sink);
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder();

  // The next bytes of the encoded body; corrupt data is a Failure(tls).
  void feed(std::string_view bytes);
  // The body ended: it must have ended the compressed stream too (else Failure(network)).
  void finish();

  // True for the encodings --compressed asks for and Decoder undoes.
  static bool supports(std::string_view encoding);

 private:
  struct Stream;
  void restart_raw();

  std::string encoding_;
  Sink sink_;
  std::unique_ptr<Stream> stream_;
  std::string first_;  // deflate: the input so far, replayed as raw deflate if it is not zlib-wrapped
  bool raw_ = false;
  bool ended_ = false;
};

}  // namespace tlsock::cli
