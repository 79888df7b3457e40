// FastCGI 1.0 constants, named as in the specification (section 8).

export const FCGI_VERSION_1 = 1;
export const FCGI_HEADER_LEN = 8;
/** Largest record body: contentLength is a 16-bit field. */
export const FCGI_MAX_CONTENT = 65535;
/** Management records use request id 0 (spec 3.3). */
export const FCGI_NULL_REQUEST_ID = 0;

// Record types (spec 8).
export const FCGI_BEGIN_REQUEST = 1;
export const FCGI_ABORT_REQUEST = 2;
export const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
export const FCGI_STDOUT = 6;
export const FCGI_STDERR = 7;
export const FCGI_DATA = 8;
export const FCGI_GET_VALUES = 9;
export const FCGI_GET_VALUES_RESULT = 10;
export const FCGI_UNKNOWN_TYPE = 11;

// FCGI_BeginRequestBody flags.
export const FCGI_KEEP_CONN = 1;

// Roles.
export const FCGI_RESPONDER = 1;
export const FCGI_AUTHORIZER = 2;
export const FCGI_FILTER = 3;

export type Role = 'RESPONDER' | 'AUTHORIZER' | 'FILTER';
export const ROLE_NAMES: Readonly<Record<number, Role>> = {
  [FCGI_RESPONDER]: 'RESPONDER',
  [FCGI_AUTHORIZER]: 'AUTHORIZER',
  [FCGI_FILTER]: 'FILTER',
};

// protocolStatus values of FCGI_EndRequestBody.
export const FCGI_REQUEST_COMPLETE = 0;
export const FCGI_CANT_MPX_CONN = 1;
export const FCGI_OVERLOADED = 2;
export const FCGI_UNKNOWN_ROLE = 3;

// Names understood in FCGI_GET_VALUES (spec 4.1).
export const FCGI_MAX_CONNS = 'FCGI_MAX_CONNS';
export const FCGI_MAX_REQS = 'FCGI_MAX_REQS';
export const FCGI_MPXS_CONNS = 'FCGI_MPXS_CONNS';
