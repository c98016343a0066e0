# himalaya_target_options(<target>): the project's warnings and sanitizers for
# one target, switched by the HIMALAYA_* options in the top-level CMakeLists.
function(himalaya_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wold-style-cast)
  if(HIMALAYA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(HIMALAYA_ASAN AND HIMALAYA_TSAN)
    message(FATAL_ERROR "HIMALAYA_ASAN and HIMALAYA_TSAN cannot be combined")
  endif()
  if(HIMALAYA_ASAN)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined
                                             -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(HIMALAYA_FUZZ AND HIMALAYA_TSAN)
    message(FATAL_ERROR "HIMALAYA_FUZZ and HIMALAYA_TSAN cannot be combined")
  endif()
  if(HIMALAYA_FUZZ)
    # Coverage for libFuzzer without its main(); tests/fuzz links the runtime.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                                             -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(HIMALAYA_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=thread)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # GCC warns that TSan does not model atomic_thread_fence, which Asio's
      # fenced blocks use around every handler. Our io_contexts run on one
      # thread each, so those fences order nothing TSan needs to see.
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
endfunction()
