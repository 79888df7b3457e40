#!/bin/bash
# The Django book's restart script for runfcgi: stop the running server (if
# any), then start a new daemon at once with an empty environment.
# Copy it next to your project and set PROJDIR; RUNFCGI and APP may be
# overridden from the environment. The old master keeps answering until the
# new one has taken the socket over, then finishes its requests and leaves.
# On TCP instead of a UNIX socket: LISTEN="host=127.0.0.1 port=3033".
PROJDIR="${PROJDIR:-/home/user/myproject}"
PIDFILE="${PIDFILE:-$PROJDIR/mysite.pid}"
SOCKET="${SOCKET:-$PROJDIR/mysite.sock}"
# The daemon's log (and the app's errors): without errlog= they go to /dev/null.
ERRLOG="${ERRLOG:-$PROJDIR/runfcgi.log}"
LISTEN="${LISTEN:-socket=$SOCKET}"
RUNFCGI="${RUNFCGI:-./node_modules/.bin/runfcgi}"
APP="${APP:-./app.js}"

cd $PROJDIR
if [ -f $PIDFILE ]; then
    kill `cat -- $PIDFILE`
    rm -f -- $PIDFILE
fi

exec /usr/bin/env - \
  PATH="/usr/local/bin:/usr/bin:/bin" \
  $RUNFCGI app=$APP $LISTEN pidfile=$PIDFILE errlog=$ERRLOG $RUNFCGI_OPTIONS
