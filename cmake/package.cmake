# package.cmake — CPack settings for the Debian package `stackmon`
# (`cpack -G DEB` in the build directory). The layout is cmake/install.cmake's;
# here: control fields, Depends computed by dpkg-shlibdeps from the binaries,
# conffiles (every sample config), and the maintainer scripts in cmake/deb/.
# tests/ops/package_deb.sh builds the package and installs it in CI.

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "stackmon")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The StackMon developers")
set(CPACK_PACKAGE_CONTACT "StackMon maintainers <maintainers@users.noreply.r-seed-2677d40b.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "lightweight monitoring suite for libvirt VM hosts")
set(CPACK_PACKAGE_DESCRIPTION
    "StackMon monitors the virtual machines of OpenStack compute nodes through libvirt.
stackmon-monitor publishes each domain's CPU, memory, disk and network figures
every second over ZeroMQ; stackmon-collector fans them in and out (with
heartbeats and fail-over); stackmon-aggregator keeps round-robin history in
Whisper files with a sqlite index; stackmon.cgi shows each tenant its
instances; stackmon-sub prints the stream as JSON lines for ops scripts.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
# Install with DESTDIR and the real prefix, so absolute destinations (/etc,
# /lib/systemd/system) land in the package and the units' paths are /usr's.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_INSTALL_PREFIX "/usr") # the prefix CPack installs with (DESTDIR mode)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # stackmon_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library packages come from dpkg-shlibdeps (libvirt0, libzmq5, libmsgpackc2,
# libsqlite3-0, libxml2, libc6, …); adduser is for the postinst; procps has
# /bin/kill, which every unit's ExecReload= runs (a minimal Debian lacks it,
# and `systemctl reload` then fails).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")
# One package serves every role, so what only one role needs is recommended,
# not required (docs/OPERATIONS.md, "Which node needs what"): a compute
# node's monitor needs libvirt's daemon (libvirt-daemon-system; a master
# installs with --no-install-recommends and goes without it), and the
# dashboard's users are made with `openssl passwd -6`. The dashboard needs a
# CGI-capable web server, which the operator picks.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libvirt-daemon-system, openssl")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "lighttpd | httpd-cgi, python3-zmq, python3-msgpack")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# conffiles: every sample configuration file cmake/install.cmake installs, so dpkg
# keeps an operator's edits on upgrade and asks before replacing them.
set(stackmon_deb_dir ${PROJECT_BINARY_DIR}/deb)
file(MAKE_DIRECTORY ${stackmon_deb_dir})
set(stackmon_conffiles "")
foreach(conf ${STACKMON_SAMPLE_CONFIGS})
  get_filename_component(name ${conf} NAME)
  string(APPEND stackmon_conffiles "${STACKMON_CONFDIR}/${name}\n")
endforeach()
file(WRITE ${stackmon_deb_dir}/conffiles "${stackmon_conffiles}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/deb/postinst
    ${PROJECT_SOURCE_DIR}/cmake/deb/prerm
    ${PROJECT_SOURCE_DIR}/cmake/deb/postrm)
if(stackmon_conffiles)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${stackmon_deb_dir}/conffiles)
endif()

include(CPack)
