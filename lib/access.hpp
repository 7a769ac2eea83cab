// tlsock::detail::Access: the library's private path to the Impl behind a public class (each
// declares `friend struct detail::Access;` and keeps `struct Impl;` and `impl_` private).
#pragma once

#include "internal.hpp"

#include <memory>
#include <utility>

#include "tlsock/detail/access.hpp"

namespace tlsock::detail {

struct Access {
  // The hidden Impl type of T. (Through a member class: Clang checks an alias template's
  // access where it is used, a member class's where Access is, which T befriends.)
  template <class T>
  struct ImplOf {
    using type = typename T::Impl;
  };
  template <class T>
  using Impl = typename ImplOf<T>::type;

  // The Impl behind x (x must hold one); a const x gives a const Impl.
  template <class T>
  static auto& impl(T& x) noexcept {
    return *x.impl_;
  }
  template <class T>
  static const auto& impl(const T& x) noexcept {
    return *x.impl_;
  }
  // The pointer itself: to share ownership of the Impl, or for classes that can be empty (moved-from).
  template <class T>
  static auto& impl_ptr(T& x) noexcept {
    return x.impl_;
  }
  // A T built by its private constructor (e.g. the one taking its Impl).
  template <class T, class... A>
  static T make(A&&... args) {
    return T(std::forward<A>(args)...);
  }
};

}  // namespace tlsock::detail
