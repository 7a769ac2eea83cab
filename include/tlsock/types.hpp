// Small vocabulary types shared by the socket-level API.
#pragma once

#include <chrono>
#include <optional>
#include <type_traits>

#include "tlsock/export.hpp"

namespace tlsock {

namespace detail {
/// A number of seconds: any arithmetic type but bool (a flag is no duration).
template <typename T>
concept Seconds = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;
}  // namespace detail

/// How long a whole public call may take; std::nullopt (or Timeout{}) means no limit. Made
/// from a number of seconds, as in oscrypto (`select_read(0.3)`, `set_timeout(5)`), from any
/// std::chrono duration (`10s`, `250ms`) or from std::nullopt, and read like the
/// std::optional<std::chrono::duration<double>> it holds. The call that receives a negative or
/// NaN timeout refuses it with std::invalid_argument; an infinite one is no limit.
class TLSOCK_API Timeout {
 public:
  /// Seconds, as a double.
  using Duration = std::chrono::duration<double>;

  constexpr Timeout() noexcept = default;
  /// No limit.
  constexpr Timeout(std::nullopt_t) noexcept {}  // NOLINT(google-explicit-constructor)
  /// A number of seconds.
  template <detail::Seconds Seconds>
  constexpr Timeout(Seconds seconds) noexcept  // NOLINT(google-explicit-constructor)
      : value_(Duration(static_cast<double>(seconds))) {}
  /// Any std::chrono duration.
  template <typename Rep, typename Period>
  constexpr Timeout(std::chrono::duration<Rep, Period> duration) noexcept  // NOLINT(google-explicit-constructor)
      : value_(std::chrono::duration_cast<Duration>(duration)) {}
  /// An optional duration: nullopt is no limit.
  template <typename Rep, typename Period>
  constexpr Timeout(const std::optional<std::chrono::duration<Rep, Period>>& duration) noexcept  // NOLINT
  {
    if (duration) value_ = std::chrono::duration_cast<Duration>(*duration);
  }

  /// True when there is a limit.
  [[nodiscard]] constexpr bool has_value() const noexcept { return value_.has_value(); }
  /// True when there is a limit.
  constexpr explicit operator bool() const noexcept { return value_.has_value(); }
  /// The duration; only when has_value() (value() throws std::bad_optional_access otherwise).
  [[nodiscard]] constexpr const Duration& operator*() const noexcept { return *value_; }
  /// The duration; only when has_value().
  [[nodiscard]] constexpr const Duration* operator->() const noexcept { return &*value_; }
  /// The duration; throws std::bad_optional_access when there is no limit.
  [[nodiscard]] constexpr const Duration& value() const { return value_.value(); }
  /// The duration, or no_limit when there is none.
  [[nodiscard]] constexpr Duration value_or(Duration no_limit) const noexcept { return value_.value_or(no_limit); }
  /// As the std::optional it holds.
  constexpr operator std::optional<Duration>() const noexcept { return value_; }  // NOLINT

  /// Equal when both have no limit or the same duration.
  friend constexpr bool operator==(const Timeout&, const Timeout&) = default;

 private:
  std::optional<Duration> value_;
};

#ifdef _WIN32
using NativeSocket = unsigned long long;  ///< SOCKET
#else
using NativeSocket = int;
#endif

}  // namespace tlsock
