#ifndef CARERELAY_CLIBPQ_SHIM_H
#define CARERELAY_CLIBPQ_SHIM_H

#include <libpq-fe.h>

/* PG_DIAG_* are macros of character literals and do not import into Swift:
   re-export them as constants. Values from postgres_ext.h. */
static const int CPQ_DIAG_SEVERITY = 'S';
static const int CPQ_DIAG_SEVERITY_NONLOCALIZED = 'V';
static const int CPQ_DIAG_SQLSTATE = 'C';
static const int CPQ_DIAG_MESSAGE_PRIMARY = 'M';
static const int CPQ_DIAG_MESSAGE_DETAIL = 'D';
static const int CPQ_DIAG_MESSAGE_HINT = 'H';
static const int CPQ_DIAG_STATEMENT_POSITION = 'P';
static const int CPQ_DIAG_CONTEXT = 'W';
static const int CPQ_DIAG_SCHEMA_NAME = 's';
static const int CPQ_DIAG_TABLE_NAME = 't';
static const int CPQ_DIAG_COLUMN_NAME = 'c';
static const int CPQ_DIAG_DATATYPE_NAME = 'd';
static const int CPQ_DIAG_CONSTRAINT_NAME = 'n';

#endif
