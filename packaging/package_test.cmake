# CTest script (package_deb): cpack the .deb, `dpkg -x` it into a temporary root, check its files
# and Depends, and run `bitlens --version`, `bitlens analyze` and `bitlens-gui --screenshot` from
# there; then `cmake --install` into another prefix and run the GUI from that one.
# Inputs: BUILD_DIR, WORK, CPACK, VERSION.
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
endfunction()

function(expect_contains text what)
  string(FIND "${text}" "${what}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "expected '${what}' in:\n${text}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run(${CPACK} -G DEB --config ${BUILD_DIR}/CPackConfig.cmake -B ${WORK})
file(GLOB debs ${WORK}/bitlens_${VERSION}_*.deb)
list(LENGTH debs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one bitlens_${VERSION}_*.deb in ${WORK}, found: ${debs}")
endif()

# Depends computed by dpkg-shlibdeps: Qt, Graphviz, HDF5 and libzip must all be named.
run(dpkg-deb -f ${debs} Depends)
foreach(dep libqt6widgets6 libqt6charts6 libqt6svg6 libgvc6 libcgraph6 libzip4)
  expect_contains("${OUT}" "${dep}")
endforeach()
expect_contains("${OUT}" "libhdf5")

set(root ${WORK}/root)
run(dpkg -x ${debs} ${root})
foreach(f usr/bin/bitlens usr/bin/bitlens-gui usr/libexec/bitlens/bitlens-h5-reader
          usr/share/applications/bitlens.desktop usr/share/icons/hicolor/scalable/apps/bitlens.svg
          usr/share/mime/packages/bitlens.xml
          usr/share/bitlens/models/mnist_tutorial.h5 usr/share/bitlens/models/forum_2layer_pad0.h5
          usr/share/bitlens/kernels/include usr/share/bitlens/kernels/src)
  if(NOT EXISTS ${root}/${f})
    message(FATAL_ERROR "missing from the package: /${f}")
  endif()
endforeach()
file(GLOB boards ${root}/usr/share/bitlens/boards/*.json)
if(NOT boards)
  message(FATAL_ERROR "no board files in /usr/share/bitlens/boards")
endif()
file(READ ${root}/usr/share/applications/bitlens.desktop desktop)
expect_contains("${desktop}" "Exec=bitlens-gui %f")
expect_contains("${desktop}" "MimeType=application/x-keras-h5;application/x-keras;")

run(${root}/usr/bin/bitlens --version)
expect_contains("${OUT}" "${VERSION}")
run(${root}/usr/bin/bitlens analyze ${root}/usr/share/bitlens/models/forum_2layer_pad0.h5)
expect_contains("${OUT}" "PAD_ZERO_EXACT")
# The GUI finds its example models next to itself (../share/bitlens), not in the build tree.
run(${root}/usr/bin/bitlens-gui --examples)
expect_contains("${OUT}" "${root}/usr/share/bitlens/models/mnist_tutorial.h5")
run(${root}/usr/bin/bitlens-gui ${root}/usr/share/bitlens/models/mnist_tutorial.h5
    --screenshot ${WORK}/deb.png --tab report --size 1024x700)
if(NOT EXISTS ${WORK}/deb.png)
  message(FATAL_ERROR "bitlens-gui --screenshot wrote no PNG")
endif()

# cmake --install into an arbitrary prefix gives the same relocatable layout.
set(prefix ${WORK}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${prefix}/bin/bitlens-gui --examples)
expect_contains("${OUT}" "${prefix}/share/bitlens/models/forum_2layer_pad0.h5")
run(${prefix}/bin/bitlens-gui ${prefix}/share/bitlens/models/forum_2layer_pad0.h5 --screenshot ${WORK}/prefix.png)
if(NOT EXISTS ${WORK}/prefix.png)
  message(FATAL_ERROR "installed bitlens-gui --screenshot wrote no PNG")
endif()
message(STATUS "package ok: ${debs}")
