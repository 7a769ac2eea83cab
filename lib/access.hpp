// tlsock::detail::Access: the library's private path to the Impl behind a public class (each
// declares `friend struct detail::Access;` and keeps `struct Impl;` and `impl_` private).
#pragma once

#include "internal.hpp"

#include <memory>
#include <utility>

#include "tlsock/detail/access.hpp"

namespace tlsock::detail {

struct Access {
  // The hidden Impl type of T.
  template <class T>
  using Impl = typename T::Impl;

  // The Impl behind x (x must hold one).
  template <class T>
  static auto& impl(T& x) {
    return *x.impl_;
  }
  // The unique_ptr itself, for classes that can be empty (moved-from).
  template <class T>
  static auto& impl_ptr(T& x) {
    return x.impl_;
  }
  // A T built around an Impl (T's private constructor taking std::unique_ptr<Impl>).
  template <class T, class I>
  static T make(std::unique_ptr<I> impl) {
    return T(std::move(impl));
  }
};

}  // namespace tlsock::detail
