# install.cmake — where `cmake --install` and the .deb put StackMon's files.
# One place for the whole layout (FHS): daemons in sbin, stackmon-sub in bin,
# the dashboard CGI in lib/cgi-bin, man pages and docs under share, and —
# outside the prefix, as systemd and the daemons' compiled-in defaults expect —
# units in /lib/systemd/system (for prefix /usr) and configs in /etc/stackmon.
# Included last by the top-level CMakeLists.txt, so every target exists.

set(STACKMON_CONFDIR "/etc/stackmon" CACHE PATH
    "where the configuration files go (the daemons' default -c path is /etc/stackmon)")
set(STACKMON_SYSTEMD_UNITDIR "" CACHE PATH
    "where the systemd units go (empty: /lib/systemd/system for prefix /usr, else /etc/systemd/system)")

# Daemons: system administration programs, run by systemd → sbin.
install(TARGETS stackmon-monitor stackmon-collector stackmon-aggregator stackmon-exporter
        stackmon-carbon
        stackmon-alert
        RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# The subscriber is a user command for ops scripts → bin; so is the key
# generator (as ssh-keygen: anyone may make a key pair).
install(TARGETS stackmon-sub stackmon-keygen RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The dashboard CGI, where Debian's web servers look for CGI programs
# (/usr/lib/cgi-bin with prefix /usr).
install(TARGETS stackmon.cgi RUNTIME DESTINATION lib/cgi-bin)

# Sample configurations: every file the daemons' folders ship in etc/stackmon/
# (NAME.conf, the dashboard's access.list). In the .deb they are conffiles
# (cmake/package.cmake lists them).
file(GLOB STACKMON_SAMPLE_CONFIGS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/etc/stackmon/*)
install(FILES ${STACKMON_SAMPLE_CONFIGS} DESTINATION ${STACKMON_CONFDIR}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# systemd units. The files in etc/systemd/ are real units for the packaged
# layout (/usr/sbin, /etc/stackmon); at install time their paths are
# rewritten for the actual prefix and config directory, so a /usr/local
# install gets units that start the binaries it installed.
file(GLOB STACKMON_UNITS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/etc/systemd/*.service)
install(CODE "
  set(unitdir \"${STACKMON_SYSTEMD_UNITDIR}\")
  if(NOT unitdir)
    if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
      set(unitdir /lib/systemd/system)
    else()
      set(unitdir /etc/systemd/system)
    endif()
  endif()
  set(stage \"${PROJECT_BINARY_DIR}/units-staged\")
  file(REMOVE_RECURSE \"\${stage}\")
  foreach(unit ${STACKMON_UNITS})
    get_filename_component(name \"\${unit}\" NAME)
    file(READ \"\${unit}\" text)
    string(REPLACE \"=/usr/sbin/\" \"=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/\" text \"\${text}\")
    string(REPLACE \" /etc/stackmon/\" \" ${STACKMON_CONFDIR}/\" text \"\${text}\")
    file(WRITE \"\${stage}/\${name}\" \"\${text}\")
  endforeach()
  file(GLOB staged \"\${stage}/*.service\")
  file(INSTALL \${staged} DESTINATION \"\${unitdir}\"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
")
# The `stackmon` user, for systemd-sysusers (the .deb's postinst also makes it).
install(FILES ${PROJECT_SOURCE_DIR}/etc/systemd/stackmon.sysusers
        DESTINATION lib/sysusers.d RENAME stackmon.conf)

# Man pages, compressed as Debian policy wants (gzip -n: reproducible).
file(GLOB STACKMON_MAN_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.[1-8])
set(STACKMON_MAN_GZ "")
foreach(page ${STACKMON_MAN_PAGES})
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\.([1-8])$" "\\1" section ${name})
  set(gz ${PROJECT_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND gzip -9 -n -c ${page} > ${gz}
    DEPENDS ${page} VERBATIM)
  list(APPEND STACKMON_MAN_GZ ${gz})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(stackmon_man ALL DEPENDS ${STACKMON_MAN_GZ})

# Documentation: the README, every docs/*.md, the Python example subscriber,
# the web-server snippets, and the licence as Debian's copyright file.
file(GLOB STACKMON_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${STACKMON_DOCS}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The dashboard's web-server snippets (lighttpd, nginx + fcgiwrap, Apache), to
# copy into the web server's configuration: examples, not conffiles, since a
# node without the dashboard has no use for them.
foreach(server lighttpd nginx apache2)
  install(FILES ${PROJECT_SOURCE_DIR}/etc/${server}/stackmon-dashboard.conf
          DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/${server})
endforeach()
