# clang + libstdc++ 12 in C++20 cannot compile LibTorch 1.x's ATen/core/List.h:
# three inline functions there use std::vector<IValue> while IValue is still
# incomplete, and clang instantiates the (C++20 constexpr) vector members they
# call on the spot (g++ waits). For clang builds (fuzz/), this writes the
# installed header into the build tree with those three definitions moved to
# its end, after List_inl.h has completed IValue, and puts it first on the
# include path. Nothing of LibTorch is kept in the source tree; a header that
# does not have the expected text stops the configure step.
function(sslab_clang_torch_compat)
  find_file(SSLAB_TORCH_LIST_H ATen/core/List.h PATHS ${TORCH_INCLUDE_DIRS}
            NO_DEFAULT_PATH)
  if(NOT SSLAB_TORCH_LIST_H)
    message(FATAL_ERROR "ATen/core/List.h not found in ${TORCH_INCLUDE_DIRS}")
  endif()
  file(READ ${SSLAB_TORCH_LIST_H} text)
  # Each definition becomes a declaration (quoted text with semicolons).
  string(ASCII 59 semi)
  macro(sslab_move definition declaration)
    string(FIND "${text}" "${definition}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${SSLAB_TORCH_LIST_H} is not the LibTorch 1.13 "
                          "header cmake/ClangTorchCompat.cmake expects")
    endif()
    string(REPLACE "${definition}" "${declaration}" text "${text}")
  endmacro()
  sslab_move(
    "  explicit ListImpl(list_type list_, TypePtr elementType_)\n  : list(std::move(list_))\n  , elementType(std::move(elementType_)) {}\n"
    "  explicit ListImpl(list_type list_, TypePtr elementType_)${semi}\n")
  sslab_move(
    "  intrusive_ptr<ListImpl> copy() const {\n    return make_intrusive<ListImpl>(list, elementType)${semi}\n  }\n"
    "  intrusive_ptr<ListImpl> copy() const${semi}\n")
  sslab_move(
    "inline const IValue* ptr_to_first_element(const GenericList& list) {\n  return &list.impl_->list[0]${semi}\n}\n"
    "inline const IValue* ptr_to_first_element(const GenericList& list)${semi}\n")
  string(APPEND text "
namespace c10::detail {
inline ListImpl::ListImpl(list_type list_, TypePtr elementType_)
    : list(std::move(list_)), elementType(std::move(elementType_)) {}
inline intrusive_ptr<ListImpl> ListImpl::copy() const {
  return make_intrusive<ListImpl>(list, elementType);
}
}  // namespace c10::detail
namespace c10::impl {
inline const IValue* ptr_to_first_element(const GenericList& list) {
  return &list.impl_->list[0];
}
}  // namespace c10::impl
")
  set(dir ${CMAKE_BINARY_DIR}/clang_torch_compat)
  set(out ${dir}/ATen/core/List.h)
  set(old "")
  if(EXISTS ${out})
    file(READ ${out} old)
  endif()
  if(NOT old STREQUAL text)  # rewritten only when it changes: no rebuilds
    file(WRITE ${out} "${text}")
  endif()
  include_directories(BEFORE SYSTEM ${dir})
endfunction()
